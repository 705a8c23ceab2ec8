"""The command line: `diffsham demo` writes its results; bad arguments are named."""
import json
import subprocess
import sys

import numpy as np


def test_demo_writes_results_whose_solver_smf_matches_the_target(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "diffsham", "demo", "--outdir", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    res = json.loads((out / "demo.json").read_text())
    assert (out / "demo.png").stat().st_size > 10_000
    ratio = np.log10(np.array(res["smf_solver"]) / np.array(res["smf_target"]))
    assert np.abs(ratio).max() < 1e-3
    assert np.all(np.diff(res["mean_log_sm_solver"]) > 0)


def test_unknown_training_setting_is_named():
    run = subprocess.run([sys.executable, "-m", "diffsham", "train-shamnet", "--n-stepz", "3"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "--n-stepz" in run.stderr
