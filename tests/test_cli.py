"""The command line: `diffsham demo` writes its results; bad arguments are named."""
import json
import os
import subprocess
import sys

import numpy as np


def test_demo_writes_results_whose_solver_smf_matches_the_target(tmp_path):
    out = tmp_path / "demo"
    env = dict(os.environ, DIFFSHAM_CACHE=str(tmp_path / "cache"))
    run = subprocess.run([sys.executable, "-m", "diffsham", "demo", "--outdir", str(out), "--lbox", "100",
                          "--logmpeak-min", "11.8"], capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr
    res = json.loads((out / "demo.json").read_text())
    assert (out / "demo.png").stat().st_size > 10_000
    for key in ("smf_solver", "smf_shamnet"):  # SHAMNet refined: exact SHAM as well
        ratio = np.log10(np.array(res[key]) / np.array(res["smf_target"]))
        assert np.abs(ratio).max() < 1e-3, key
    assert np.all(np.diff(res["mean_log_sm_solver"]) > 0)
    cat = json.loads((out / "catalog_predictions.json").read_text())
    wp = np.array(cat["wp"])
    assert wp.shape == (3, 15) and np.all(np.isfinite(wp))
    assert np.all(wp[:, :5] > wp[:, 10:].max())  # clustering falls with separation
    # heavier galaxies live in heavier halos: larger DeltaSigma at 1 Mpc/h
    ds = np.array(cat["delta_sigma"])
    assert np.all(np.diff(ds[:, 9]) > 0)
    assert (out / "catalog_predictions.png").stat().st_size > 10_000


def test_unknown_training_setting_is_named():
    run = subprocess.run([sys.executable, "-m", "diffsham", "train-shamnet", "--n-stepz", "3"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "--n-stepz" in run.stderr


def test_catalog_make_and_info(tmp_path):
    path = tmp_path / "cat.h5"
    run = subprocess.run([sys.executable, "-m", "diffsham", "catalog", "make", "--lbox", "40", "--logmpeak-min",
                          "11.5", "--n-grid", "32", "--out", str(path)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    made = json.loads(run.stdout.strip().splitlines()[-1])
    assert made["has_delta_sigma"] and made["n_halos"] > 100 and path.exists()
    plot = tmp_path / "mf.png"
    run = subprocess.run([sys.executable, "-m", "diffsham", "catalog", "info", str(path), "--plot", str(plot)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert info["n_halos"] == made["n_halos"] and plot.stat().st_size > 10_000
    first = info["abundance_vs_bolshoi_planck"][0]
    assert first["counts"] == int(round(first["n_measured"] * 40.0**3))
    run = subprocess.run([sys.executable, "-m", "diffsham", "catalog", "info", str(tmp_path / "nope.h5")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "nope.h5: no such file" in run.stderr
