"""``diffsham catalog make`` and ``diffsham catalog info PATH``."""
import argparse
import json
import os

import numpy as np

__all__ = ("main",)


def main(argv):
    parser = argparse.ArgumentParser(prog="diffsham catalog", description="Halo catalogs")
    sub = parser.add_subparsers(dest="action", required=True)
    make = sub.add_parser("make", help="make (or reuse) the synthetic catalog and cache it as HDF5")
    from ..catalog.synthetic import SyntheticConfig

    defaults = SyntheticConfig()
    make.add_argument("--lbox", type=float, default=defaults.lbox, help="box side [Mpc/h]")
    make.add_argument("--logmpeak-min", type=float, default=defaults.logmpeak_min, help="[log Msun/h]")
    make.add_argument("--seed", type=int, default=defaults.seed)
    make.add_argument("--n-grid", type=int, default=defaults.n_grid, help="density-field cells per side")
    make.add_argument("--out", default=None, help="output file (default: in the cache folder, see diffsham.cache)")
    make.add_argument("--no-lensing", action="store_true", help="skip the per-halo DeltaSigma profiles")
    info = sub.add_parser("info", help="summary of a catalog file and a mass-function plot")
    info.add_argument("path")
    info.add_argument("--format", choices=("diffsham", "halotools", "hlist"), default="diffsham")
    info.add_argument("--lbox", type=float, default=None, help="box side for hlist files without one")
    info.add_argument("--plot", default=None, help="where to write the plot (default: PATH + .massfunc.png)")
    args = parser.parse_args(argv)
    if args.action == "make":
        from ..catalog.default import load_synthetic_catalog, synthetic_catalog_path

        config = SyntheticConfig(lbox=args.lbox, logmpeak_min=args.logmpeak_min, seed=args.seed,
                                 n_grid=args.n_grid)
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
