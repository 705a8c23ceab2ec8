"""``diffsham catalog make``, ``diffsham catalog info PATH`` and ``diffsham catalog tabulate PATH``."""
import argparse
import json
import os

import numpy as np

__all__ = ("main",)


def main(argv):
    parser = argparse.ArgumentParser(prog="diffsham catalog", description="Halo catalogs")
    sub = parser.add_subparsers(dest="action", required=True)
    make = sub.add_parser("make", help="make (or reuse) the synthetic catalog and cache it as HDF5")
    from ..catalog.synthetic import RECIPES, SyntheticConfig

    defaults = SyntheticConfig()
    make.add_argument("--lbox", type=float, default=defaults.lbox, help="box side [Mpc/h]")
    make.add_argument("--logmpeak-min", type=float, default=defaults.logmpeak_min, help="[log Msun/h]")
    make.add_argument("--seed", type=int, default=defaults.seed)
    make.add_argument("--n-grid", type=int, default=defaults.n_grid, help="linear density-field cells per side")
    make.add_argument("--recipe", choices=RECIPES, default=defaults.recipe,
                      help="linear: one linear lognormal field; nbody: nonlinear halo clustering and N-body subhalos")
    make.add_argument("--cell-size", type=float, default=defaults.cell_size,
                      help="largest cell of the nonlinear fields [Mpc/h]")
    make.add_argument("--out", default=None, help="output file (default: in the cache folder, see diffsham.cache)")
    make.add_argument("--no-lensing", action="store_true", help="skip the per-halo DeltaSigma profiles")
    info = sub.add_parser("info", help="summary of a catalog file and a mass-function plot")
    info.add_argument("path")
    info.add_argument("--format", choices=("diffsham", "halotools", "hlist"), default="diffsham")
    info.add_argument("--lbox", type=float, default=None, help="box side for hlist files without one")
    info.add_argument("--plot", default=None, help="where to write the plot (default: PATH + .massfunc.png)")
    tab = sub.add_parser("tabulate", help="tabulate a diffsham catalog file for the fast path, into the cache "
                                          "(over the processes of jax.distributed with --distributed)")
    tab.add_argument("path")
    tab.add_argument("--rp-edges", type=float, nargs="+", default=None,
                     help="wp's rp bin edges [Mpc/h] (default: the model's, 0.1-30 in 15 log bins)")
    tab.add_argument("--pi-max", type=float, default=None, help="[Mpc/h] (default: the model's, 40)")
    tab.add_argument("--dlogm", type=float, default=0.02, help="log Mpeak bin width [dex]")
    tab.add_argument("--space", choices=("real", "redshift"), default="real")
    tab.add_argument("--cache-dir", default=None, help="default: see diffsham.cache")
    tab.add_argument("--chunk-rows", type=int, default=2**20, help="rows read from the file at a time")
    tab.add_argument("--distributed", action="store_true",
                     help="start jax.distributed (srun, mpirun, or the DIFFSHAM_COORDINATOR, "
                          "DIFFSHAM_NUM_PROCESSES, DIFFSHAM_PROCESS_ID variables) and split the box over the processes")
    args = parser.parse_args(argv)
    if args.action == "tabulate":
        return _tabulate(parser, args)
    if args.action == "make":
        from ..catalog.default import load_synthetic_catalog, synthetic_catalog_path

        from ..catalog.synthetic import check_synthetic_config

        config = SyntheticConfig(lbox=args.lbox, logmpeak_min=args.logmpeak_min, seed=args.seed,
                                 n_grid=args.n_grid, recipe=args.recipe, cell_size=args.cell_size)
        try:
            check_synthetic_config(config)
        except ValueError as exc:
            parser.error(str(exc).replace("SyntheticConfig.cell_size", "--cell-size"))
        path = args.out or synthetic_catalog_path(config)
        cat = load_synthetic_catalog(config, path=path, with_lensing=not args.no_lensing)
        print(json.dumps(dict(path=path, **cat.summary())))
    else:
        from ..catalog.schema import CatalogError

        try:
            cat = _read_any(args.path, args.format, args.lbox)
        except CatalogError as exc:
            parser.exit(2, f"diffsham catalog info: error: {exc}\n")
        summary = cat.summary()
        plot = args.plot or os.path.splitext(os.path.basename(args.path))[0] + ".massfunc.png"
        summary["abundance_vs_bolshoi_planck"] = _abundance_table(cat)
        summary["plot"] = write_mass_function_plot(cat, plot)
        print(json.dumps(summary, indent=1))


def _tabulate(parser, args):
    from ..catalog.schema import CatalogError
    from ..distributed import DistributedSetupError, initialize, tabulate_distributed
    from ..model.config import DEFAULT_PI_MAX, DEFAULT_RP_EDGES

    try:
        if args.distributed:
            initialize()
        _, report = tabulate_distributed(args.path, args.rp_edges or DEFAULT_RP_EDGES, args.pi_max or DEFAULT_PI_MAX,
                                         args.dlogm, space=args.space, cache_dir=args.cache_dir,
                                         chunk_rows=args.chunk_rows)
    except (CatalogError, DistributedSetupError, ValueError) as exc:
        parser.exit(2, f"diffsham catalog tabulate: error: {exc}\n")
    print(json.dumps(report._asdict()), flush=True)


def _read_any(path, fmt, lbox):
    from ..catalog import read_catalog, read_halotools_cache, read_hlist

    if fmt == "halotools":
        return read_halotools_cache(path)
    if fmt == "hlist":
        return read_hlist(path, lbox=lbox)
    return read_catalog(path)


def _abundance_table(cat):
    from ..catalog.quality import cumulative_abundance

    thresholds = np.arange(np.ceil(cat.logmpeak.min() * 2) / 2, cat.logmpeak.max(), 0.5)
    measured, model, counts = cumulative_abundance(cat, thresholds)
    return [dict(logmpeak=float(t), n_measured=float(m), n_model=float(p), counts=int(c))
            for t, m, p, c in zip(thresholds, measured, model, counts)]


def write_mass_function_plot(cat, path):
    """Plot dn/dlog Mpeak of the catalog (all, hosts, subhalos) with the Bolshoi-Planck fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..sham.shmf import log_ncum_bpl

    edges = np.arange(np.floor(cat.logmpeak.min() * 10) / 10, cat.logmpeak.max() + 0.1, 0.1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    fig, ax = plt.subplots(figsize=(5, 4))
    for sel, label in ((np.ones(cat.n_halos, bool), "all"), (cat.is_host, "hosts"), (~cat.is_host, "subhalos")):
        counts, _ = np.histogram(cat.logmpeak[sel], bins=edges)
        ok = counts > 0
        ax.errorbar(mid[ok], counts[ok] / cat.volume / 0.1, yerr=np.sqrt(counts[ok]) / cat.volume / 0.1,
                    fmt="o", ms=3, label=label)
    ncum = 10.0 ** np.asarray(log_ncum_bpl(edges, cat.redshift))
    ax.plot(mid, (ncum[:-1] - ncum[1:]) / 0.1, "k-", label="Bolshoi-Planck fit")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\log_{10} M_{\rm peak}$ [$M_\odot/h$]")
    ax.set_ylabel(r"$dn/d\log M_{\rm peak}$ [$h^3\,{\rm Mpc}^{-3}$]")
    ax.set_title(cat.source[:60], fontsize=7)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
