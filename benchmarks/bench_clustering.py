"""Host-host clustering of the synthetic catalog: nonlinear fields against their target and the
Dark Emulator, and the linear catalog (the one before) against the same target.

For each seed, each recipe ("nbody", then "linear" as the peer) is made in a separate
process, so its time and peak memory (VmHWM) are its own; xi(r) of hosts is measured in
log Mpeak bins and divided by the box's target: b_i b_j zeta(r) xi_NL(r) (diffsham.catalog.
clustering) averaged over shells, less the modes longer than the box
(diffsham.catalog.quality.xi_target_box), with b the Tinker 2010 bias averaged over pairs of
the bin. Then the target itself against the Dark Emulator table in data/reference.

Usage: python -u benchmarks/bench_clustering.py [--lbox 250] [--logmpeak-min 11.5] [--seeds 0 1] [--recipes nbody linear]
Last line: one JSON record of the figures.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, print_json_line  # noqa: E402

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "data", "reference", "darkemu_xi_hh_bolshoi_planck_z0.csv")
MASS_BINS = ((11.5, 12.0), (12.0, 12.5), (12.5, 13.0), (13.0, 13.5), (13.5, 14.5))
R_EDGES = np.logspace(np.log10(0.3), np.log10(30.0), 21)


def _one(lbox, logmpeak_min, seed, recipe):
    """Run in a child: make the catalog, measure xi / target per mass bin; print one JSON line."""
    import time

    from diffsham.catalog import SyntheticConfig, make_synthetic_catalog
    from diffsham.catalog.clustering import power_halo_target, xi_halo_halo
    from diffsham.catalog.cosmology import tinker10_bias
    from diffsham.catalog.quality import xi_auto, xi_target_box

    t0 = time.perf_counter()
    cat = make_synthetic_catalog(SyntheticConfig(lbox=lbox, logmpeak_min=logmpeak_min, seed=seed,
                                                 recipe=recipe), progress=False)
    make_s = time.perf_counter() - t0
    with open("/proc/self/status") as f:
        peak_gb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1e6
    target = xi_target_box(R_EDGES, lbox, lambda r: xi_halo_halo(r, 1.0, 1.0), power_halo_target)
    out = dict(make_s=make_s, peak_gb=peak_gb, n_hosts=int(cat.is_host.sum()), ratio={})
    for lo, hi in MASS_BINS:
        sel = cat.is_host & (cat.logmpeak >= lo) & (cat.logmpeak < hi)
        if sel.sum() < 300:
            continue
        b = np.mean(tinker10_bias(cat.logmpeak[sel], cat.redshift))
        xi = xi_auto(cat.positions[sel], lbox, R_EDGES)
        out["ratio"][f"{lo}-{hi}"] = (xi / (b * b * target)).tolist()
    print(json.dumps(out))


def _target_vs_reference():
    """The target b^2 zeta xi_NL over the Dark Emulator's xi_hh, per mass bin, with each side's bias.

    The target's bias is Tinker 2010 averaged over the bin with the model SHMF's abundance.
    """
    from diffsham.catalog.clustering import xi_halo_halo
    from diffsham.catalog.cosmology import tinker10_bias
    from diffsham.sham.shmf import log_ncum_bpl

    lines = [line for line in open(REFERENCE) if not line.startswith("#")]
    names = lines[0].strip().split(",")
    table = np.loadtxt(lines[1:], delimiter=",")
    r = table[:, 0]
    out = {}
    for name in names[1:]:
        if not name.startswith("xi_hh_") or "_x_" in name or name == "xi_hh_12.0-12.5":  # 12.0: extrapolated
            continue
        lo, hi = map(float, name[len("xi_hh_"):].split("-"))
        m = np.linspace(lo, hi, 201)
        dn = -np.gradient(10.0 ** np.asarray(log_ncum_bpl(m, 0.0)), m)
        b = float(np.sum(dn * tinker10_bias(m)) / np.sum(dn))
        ratio = b * b * xi_halo_halo(r, 1.0, 1.0) / table[:, names.index(name)]
        out[name] = dict(bias_tinker10=b, r=r.tolist(), ratio=ratio.tolist())
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lbox", type=float, default=250.0)
    p.add_argument("--logmpeak-min", type=float, default=11.5)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--recipes", nargs="+", default=["nbody", "linear"], choices=["nbody", "linear"])
    p.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        lbox, mmin, seed, recipe = args.one
        return _one(float(lbox), float(mmin), int(seed), recipe)
    np.set_printoptions(linewidth=200, precision=3, suppress=True)
    r_mid = np.sqrt(R_EDGES[1:] * R_EDGES[:-1])
    print("r [Mpc/h]:", r_mid)
    record = dict(benchmark="clustering", machine=machine(), lbox=args.lbox, logmpeak_min=args.logmpeak_min,
                  seeds=args.seeds, r=r_mid.tolist(), runs={})
    for recipe in args.recipes:
        runs = []
        for seed in args.seeds:
            res = subprocess.run([sys.executable, __file__, "--one", str(args.lbox), str(args.logmpeak_min), str(seed),
                                  recipe], check=True, capture_output=True, text=True)
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(f"{recipe} seed {seed}: made in {runs[-1]['make_s']:.1f} s, peak {runs[-1]['peak_gb']:.2f} GB, "
                  f"{runs[-1]['n_hosts']} hosts")
        mean = {k: np.mean([run["ratio"][k] for run in runs], axis=0) for k in runs[0]["ratio"]}
        for k, v in mean.items():
            band = lambda lo, hi: v[(r_mid >= lo) & (r_mid < hi)]  # noqa: E731
            print(f"  {recipe} {k}: xi / target (mean of seeds) {v}")
            print(f"      max |ratio - 1|: 0.3-1 Mpc/h {np.max(np.abs(band(0.3, 1.0) - 1)):.3f}, "
                  f"1-30 Mpc/h {np.max(np.abs(band(1.0, 30.0) - 1)):.3f}")
        record["runs"][recipe] = dict(runs=runs, mean_ratio={k: v.tolist() for k, v in mean.items()})
    reference = _target_vs_reference()
    from diffsham.catalog.cosmology import r200m

    for name, rec in reference.items():
        r, ratio = np.array(rec["r"]), np.array(rec["ratio"])
        hi = float(name.rsplit("-", 1)[1])
        r_min = max(0.5, 2.5 * r200m(hi))  # inside, halos exclude each other and the target does not apply
        sel = (r >= r_min) & (r <= 30.0)
        print(f"target / Dark Emulator {name} (b_T10 {rec['bias_tinker10']:.3f}): at {r_min:.2f}-30 Mpc/h "
              f"{ratio[sel].min():.3f} to {ratio[sel].max():.3f}")
    record["target_vs_darkemu"] = reference
    print_json_line(record)


if __name__ == "__main__":
    main()
