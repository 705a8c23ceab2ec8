"""Train SHAMNet with optax on the SMF loss and the SMF-gradient loss.

For a batch of parameters theta drawn from the training domain, the loss compares the
SMF implied by the network (halo abundance convolved with the triweight scatter,
DESIGN.md) with the target Schechter SMF in narrow bins, and the derivatives of the
two with respect to theta (the target's are the analytic Schechter derivatives, zero
for the scatter). Training data are drawn afresh every step, so there is nothing to
overfit; a fixed validation set is reported at every checkpoint.

Run ``python -m diffsham.shamnet.train --help`` or ``diffsham train-shamnet``.
"""
import argparse
import json
import os
import time

import jax
import numpy as np
import optax
from jax import numpy as jnp
from tqdm.auto import tqdm

from .. import __version__
from ..sham.params import SHAM_PBOUNDS_PDICT
from .io import load_shamnet, save_shamnet
from .network import ShamNet, init_mlp
from .validation import log_smf_errors_and_jacobian, sample_theta, smf_accuracy

__all__ = ("TrainConfig", "train_shamnet", "main")

TRAIN_SM_EDGES = jnp.asarray(np.linspace(8.2, 11.8, 91))  # 0.04 dex


class TrainConfig(dict):
    """Settings of a training run (a dict, stored verbatim in the weights file)."""

    DEFAULTS = dict(
        seed=0,
        n_steps=4000,
        batch=16,
        lr=3e-3,
        lr_final=2e-5,
        hidden=(48, 48, 48),
        grad_weight=0.1,
        checkpoint_every=250,
        n_valid=64,
        logmh_lo=10.0,
        logmh_hi=16.5,
    )

    def __init__(self, **kw):
        unknown = set(kw) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown training setting(s): {sorted(unknown)}")
        super().__init__({**self.DEFAULTS, **kw})


def _domain():
    lo = np.array([b[0] for b in SHAM_PBOUNDS_PDICT.values()])
    hi = np.array([b[1] for b in SHAM_PBOUNDS_PDICT.values()])
    return lo, hi


def _loss_one(weights, bounds, theta, grad_weight):
    r, gr = log_smf_errors_and_jacobian(weights, bounds, theta, TRAIN_SM_EDGES)
    return jnp.mean(r * r) + grad_weight * jnp.mean(gr * gr)


def _make_step(optimizer, bounds, grad_weight):
    def batch_loss(weights, thetas):
        return jnp.mean(jax.vmap(lambda t: _loss_one(weights, bounds, t, grad_weight))(thetas))

    @jax.jit
    def step(weights, opt_state, thetas):
        loss, grads = jax.value_and_grad(batch_loss)(weights, thetas)
        updates, opt_state = optimizer.update(grads, opt_state, weights)
        return optax.apply_updates(weights, updates), opt_state, loss

    return step


def _checkpoint_path(outdir):
    return os.path.join(outdir, "shamnet_checkpoint.h5")


def train_shamnet(config=None, outdir="out/shamnet", resume=True, progress=True):
    """Train SHAMNet; checkpoints in ``outdir``, resumable.

    Parameters
    ----------
    config : TrainConfig, optional
    outdir : str
        Receives ``shamnet_checkpoint.h5`` every ``checkpoint_every`` steps and
        ``shamnet.h5`` with the final weights and validation metrics.
    resume : bool
        Continue from the checkpoint in ``outdir`` when there is one with the same config.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    net : ShamNet
    """
    config = config or TrainConfig()
    os.makedirs(outdir, exist_ok=True)
    theta_lo, theta_hi = _domain()
    bounds = (jnp.asarray(theta_lo), jnp.asarray(theta_hi), config["logmh_lo"], config["logmh_hi"])
    key = jax.random.PRNGKey(config["seed"])
    key, k_init, k_valid = jax.random.split(key, 3)
    sizes = (6, *config["hidden"], 1)
    weights = init_mlp(k_init, sizes)
    schedule = optax.cosine_decay_schedule(
        config["lr"], config["n_steps"], alpha=config["lr_final"] / config["lr"]
    )
    optimizer = optax.adam(schedule)
    opt_state = optimizer.init(weights)
    start = 0

    ckpt = _checkpoint_path(outdir)
    if resume and os.path.exists(ckpt):
        prev = load_shamnet(ckpt)
        if prev.metadata.get("train_config") == json.loads(json.dumps(config)):
            weights = prev.weights
            start = int(prev.metadata["step"])
            opt_state = optimizer.init(weights)
            # Adam moments are not stored: restart them, but keep the schedule position
            opt_state = _advance_schedule(opt_state, start)
            print(f"resuming from {ckpt} at step {start}")

    step = _make_step(optimizer, bounds, config["grad_weight"])
    valid_thetas = sample_theta(k_valid, config["n_valid"], theta_lo, theta_hi)

    def make_net(weights, step_done, metrics=None):
        meta = dict(
            version=__version__,
            architecture=dict(sizes=list(sizes), activation="tanh", output="mu0 + MLP"),
            shmf="Bolshoi-Planck fit, z=0 (diffsham.sham.shmf.log_ncum_bpl)",
            inputs=["logphi", "alpha", "logmc", "s_lo", "s_hi", "logmpeak"],
            units="h=1: M* in Msun/h^2, Mpeak in Msun/h, phi* in h^3 Mpc^-3",
            train_config=json.loads(json.dumps(config)),
            step=int(step_done),
            validation=metrics or {},
        )
        return ShamNet(weights, theta_lo, theta_hi, config["logmh_lo"], config["logmh_hi"], meta)

    bar = tqdm(total=config["n_steps"], initial=start, disable=not progress, desc="SHAMNet")
    t0 = time.time()
    for i in range(start, config["n_steps"]):
        k = jax.random.fold_in(key, i)
        # Draw slightly beyond the domain so its edges are as well trained as its centre
        pad = 0.03 * (theta_hi - theta_lo)
        thetas = sample_theta(k, config["batch"], theta_lo - pad, theta_hi + pad)
        weights, opt_state, loss = step(weights, opt_state, thetas)
        bar.update(1)
        if (i + 1) % 50 == 0:
            bar.set_postfix(loss=f"{float(loss):.2e}")
        if (i + 1) % config["checkpoint_every"] == 0 or i + 1 == config["n_steps"]:
            save_shamnet(make_net(weights, i + 1), ckpt)
    bar.close()

    stats, _, _ = smf_accuracy(make_net(weights, config["n_steps"]), valid_thetas)
    stats["train_seconds"] = time.time() - t0
    net = make_net(weights, config["n_steps"], stats)
    save_shamnet(net, os.path.join(outdir, "shamnet.h5"))
    print("validation (%d draws, log M* 8.7-11.7):" % config["n_valid"])
    print(json.dumps(stats, indent=1))
    return net


def _advance_schedule(opt_state, n):
    # optax.adam's state is (ScaleByAdamState, ScaleByScheduleState); set the count
    adam, sched = opt_state
    return (adam._replace(count=jnp.asarray(n, jnp.int32)), sched._replace(count=jnp.asarray(n, jnp.int32)))


def main(argv=None):
    p = argparse.ArgumentParser(prog="diffsham train-shamnet", description=__doc__.split("\n")[0])
    p.add_argument("--outdir", default="out/shamnet")
    for name, default in TrainConfig.DEFAULTS.items():
        if name == "hidden":
            p.add_argument("--hidden", type=int, nargs="+", default=list(default))
        else:
            p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    p.add_argument("--no-resume", action="store_true")
    args = vars(p.parse_args(argv))
    outdir, no_resume = args.pop("outdir"), args.pop("no_resume")
    args["hidden"] = tuple(args["hidden"])
    train_shamnet(TrainConfig(**args), outdir=outdir, resume=not no_resume)


if __name__ == "__main__":
    main()
