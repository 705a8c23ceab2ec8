"""The synthetic catalog: generation time, analytic DeltaSigma time, and its quality checks
(abundance against the Bolshoi-Planck SHMF, host bias against Tinker 2010, subhalo fraction).

Usage: python benchmarks/bench_catalog.py [--lbox 250] [--logmpeak-min 11.0] [--seed 0]
Last line: one JSON record of the figures.
"""
import argparse
import sys
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, print_json_line  # noqa: E402

from diffsham.catalog import SyntheticConfig, analytic_delta_sigma, make_synthetic_catalog  # noqa: E402
from diffsham.catalog.quality import cumulative_abundance, host_bias  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lbox", type=float, default=250.0)
    p.add_argument("--logmpeak-min", type=float, default=11.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    config = SyntheticConfig(lbox=args.lbox, logmpeak_min=args.logmpeak_min, seed=args.seed)
    t0 = time.perf_counter()
    cat = make_synthetic_catalog(config, progress=False)
    t_make = time.perf_counter() - t0
    t0 = time.perf_counter()
    analytic_delta_sigma(cat, progress=False)
    t_ds = time.perf_counter() - t0
    thresholds = np.array([11.5, 12.0, 12.5, 13.0, 13.5, 14.0])
    measured, model, counts = cumulative_abundance(cat, thresholds)
    bins = np.array([11.5, 12.0, 12.5, 13.0, 13.5, 14.5])
    b_meas, b_pred = host_bias(cat, bins)
    record = dict(benchmark="catalog", machine=machine(), config=config._asdict(), n_halos=int(cat.n_halos),
                  make_s=t_make, delta_sigma_s=t_ds,
                  subhalo_fraction_above_11=float(np.mean(~cat.is_host[cat.logmpeak >= 11.0])),
                  abundance_thresholds=thresholds.tolist(), abundance_ratio_minus_1=(measured / model - 1).tolist(),
                  abundance_counts=counts.tolist(), bias_bins=bins.tolist(), bias_measured=b_meas.tolist(),
                  bias_tinker10=b_pred.tolist(), bias_ratio_minus_1=(b_meas / b_pred - 1).tolist())
    print(f"{cat.n_halos} objects: made in {t_make:.1f} s, DeltaSigma profiles in {t_ds:.1f} s")
    print("abundance / model - 1 above", thresholds, ":", np.round(measured / model - 1, 4))
    print("host bias / Tinker10 - 1 in", bins, ":", np.round(b_meas / b_pred - 1, 3))
    print(f"subhalo fraction above 10^11: {record['subhalo_fraction_above_11']:.3f}")
    print_json_line(record)


if __name__ == "__main__":
    main()
