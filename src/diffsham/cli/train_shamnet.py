"""``diffsham train-shamnet``: train SHAMNet (seeded, checkpointed, resumable)."""
import argparse

from ..shamnet import train as _train

__all__ = ("main",)



def main(argv=None):
    p = argparse.ArgumentParser(prog="diffsham train-shamnet", description=_train.__doc__.split("\n")[0])
    p.add_argument("--outdir", default="out/shamnet")
    for name, default in _train.TrainConfig.DEFAULTS.items():
        if name == "hidden":
            p.add_argument("--hidden", type=int, nargs="+", default=list(default))
        else:
            p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    p.add_argument("--no-resume", action="store_true")
    args = vars(p.parse_args(argv))
    outdir, no_resume = args.pop("outdir"), args.pop("no_resume")
    args["hidden"] = tuple(args["hidden"])
    _train.train_shamnet(_train.TrainConfig(**args), outdir=outdir, resume=not no_resume)
