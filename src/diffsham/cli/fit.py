"""``diffsham fit SPEC``, ``diffsham mock SPEC``, ``diffsham report RUN``."""
import argparse
import shlex
import sys

__all__ = ("fit_main", "mock_main", "report_main")


def _fail(prog, exc):
    sys.stderr.write(f"{prog}: error: {exc}\n")
    raise SystemExit(2)


def fit_main(argv):
    p = argparse.ArgumentParser(prog="diffsham fit", description="Sample the posterior a likelihood spec describes")
    p.add_argument("spec")
    p.add_argument("--sampler", choices=("nuts", "hmc", "pathfinder-nuts", "numpyro-nuts"), default=None,
                   help="default: the spec's [sampler] method")
    p.add_argument("--chains", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--init", choices=("prior", "map"), default=None)
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--out", required=True, help="run folder (checkpoint, run.nc, summary, plots)")
    p.add_argument("--resume", action="store_true", help="continue a killed run from its checkpoint")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--devices", type=int, default=None,
                   help="split the chains over this many local devices (on the CPU: virtual devices; keep it at or "
                        "below the number of cores)")
    p.add_argument("--distributed", action="store_true",
                   help="start jax.distributed first (srun, mpirun, or the DIFFSHAM_COORDINATOR, "
                        "DIFFSHAM_NUM_PROCESSES, DIFFSHAM_PROCESS_ID variables): --devices then counts the devices "
                        "of all processes, a diffsham catalog file is split over them, and process 0 writes the run")
    args = p.parse_args(argv)
    if args.distributed:
        from ..distributed import DistributedSetupError, initialize

        try:
            initialize()  # before anything starts JAX's backend
        except DistributedSetupError as exc:
            _fail("diffsham fit", exc)
    elif args.devices is not None and args.devices > 1:
        from ..infer.devices import request_cpu_devices

        request_cpu_devices(args.devices)  # before anything starts JAX's backend
    from ..infer import SamplerStalled, SpecError, fit
    from ..infer.devices import DevicesUnavailable

    overrides = {k: v for k, v in dict(method=args.sampler, chains=args.chains, warmup=args.warmup,
                                       samples=args.samples, seed=args.seed, init=args.init,
                                       checkpoint_every=args.checkpoint_every, devices=args.devices).items()
                 if v is not None}
    try:
        fit(args.spec, out=args.out, overrides=overrides, resume=args.resume, progress=not args.quiet)
    except (SpecError, SamplerStalled, FileNotFoundError, DevicesUnavailable) as exc:
        _fail("diffsham fit", exc)


def mock_main(argv):
    p = argparse.ArgumentParser(prog="diffsham mock",
                                description="Write a mock data vector, covariance and truth for a spec's observables")
    p.add_argument("spec")
    p.add_argument("--params", nargs="*", default=[], metavar="NAME=VALUE",
                   help="the truth (default: the spec's [truth], else the default parameters)")
    p.add_argument("--out", required=True)
    p.add_argument("--noise-seed", type=int, default=None, help="add a Gaussian draw from the covariance")
    args = p.parse_args(argv)
    from ..infer import SpecError, build_model, make_mock, read_spec
    from ..sham.params import DEFAULT_SHAM_PDICT

    try:
        spec = read_spec(args.spec)
        truth = dict(DEFAULT_SHAM_PDICT, **(spec.truth or {}))
        for item in args.params:
            name, _, value = item.partition("=")
            if name not in DEFAULT_SHAM_PDICT or not value:
                raise SpecError(f"--params takes NAME=VALUE with NAME in {list(DEFAULT_SHAM_PDICT)}, got {item!r}")
            truth[name] = float(value)
        model = build_model(spec)
        r_range = {o.kind: (o.r_min, o.r_max) for o in spec.observables}
        command = "diffsham mock " + " ".join(shlex.quote(a) for a in argv)
        paths = make_mock(model, truth, args.out, r_range=r_range, noise_seed=args.noise_seed, command=command)
    except SpecError as exc:
        _fail("diffsham mock", exc)
    print("\n".join(f"wrote {v}" for v in paths.values()))


def report_main(argv):
    p = argparse.ArgumentParser(prog="diffsham report", description="Remake a run's summary and plots from run.nc")
    p.add_argument("run")
    args = p.parse_args(argv)
    from ..infer import report

    try:
        report(args.run)
    except FileNotFoundError as exc:
        _fail("diffsham report", exc)
