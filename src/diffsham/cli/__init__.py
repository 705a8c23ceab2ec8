"""Command line: ``diffsham demo``, ``fit``, ``mock``, ``report``, ``train-shamnet``, ``catalog make|info``.

All command-line code lives in this subpackage; the library modules hold none.
"""
import argparse
import sys

__all__ = ("main",)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="diffsham", description="Differentiable SHAM predictions")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="SMHM and implied SMF for the default parameters")
    demo.add_argument("--outdir", default="out/demo")
    demo.add_argument("--lbox", type=float, default=250.0, help="box of the synthetic catalog [Mpc/h]")
    demo.add_argument("--logmpeak-min", type=float, default=11.5,
                      help="lightest object [log Msun/h]; 11.5 keeps the first tabulation to about a minute")
    demo.add_argument("--no-catalog", action="store_true", help="skip the predictions from the catalog")
    sub.add_parser("train-shamnet", help="train SHAMNet (see --help of the subcommand)", add_help=False)
    sub.add_parser("catalog", help="halo catalogs: `catalog make`, `catalog info PATH`", add_help=False)
    sub.add_parser("fit", help="sample the posterior of a likelihood spec (see `fit --help`)", add_help=False)
    sub.add_parser("mock", help="write a mock data vector for a spec (see `mock --help`)", add_help=False)
    sub.add_parser("report", help="remake a run's summary and plots", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        run_demo(args.outdir)
        if not args.no_catalog:
            from ..catalog import SyntheticConfig
            from .demo_catalog import run_catalog_demo

            run_catalog_demo(args.outdir, SyntheticConfig(lbox=args.lbox, logmpeak_min=args.logmpeak_min))
    elif args.command == "train-shamnet":
        from .train_shamnet import main as train_main

        train_main(rest)
    elif args.command == "catalog":
        from .catalog import main as catalog_main

        catalog_main(rest)
    elif args.command in ("fit", "mock", "report"):
        from . import fit as fit_cli

        getattr(fit_cli, f"{args.command}_main")(rest)


if __name__ == "__main__":
    main()
