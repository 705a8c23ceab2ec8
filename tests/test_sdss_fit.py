"""A short SDSS fit that runs end to end: likelihoods/sdss_lensing.toml (Li & White SMF,
Yang wp in redshift space, Mandelbaum DeltaSigma of central galaxies, plus the box's
jackknife covariance) on a 100 Mpc/h box (the smallest that holds pi_max = 40)
with the spec's cut and bins, and short chains. Skips without ../shared/data."""
import json
import os
import re

import numpy as np
import pytest

from diffsham.survey import default_data_dir

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "likelihoods", "sdss_lensing.toml")
pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(default_data_dir(), "smf_sdss_liwhite2009.csv")),
                                reason=f"the published SDSS tables are not at {default_data_dir()} (../shared/data)")


@pytest.mark.slow
def test_short_sdss_fit_runs(tmp_path):
    from diffsham.infer import build_posterior, fit, read_spec

    text = open(SPEC).read()
    text = re.sub(r"(?m)^lbox = 250.0$", "lbox = 100.0\nn_grid = 32", text)
    text = re.sub(r"(?m)^(chains|warmup|samples|checkpoint_every) = \d+$",
                  lambda m: f"{m.group(1)} = {dict(chains=2, warmup=40, samples=20, checkpoint_every=20)[m.group(1)]}",
                  text)
    text = text.replace("[sampler]", '[likelihood]\nbox_covariance = "jackknife"\njackknife_n_side = 2\n\n[sampler]')
    assert "lbox = 100.0" in text and "warmup = 40" in text and "jackknife_n_side = 2" in text
    path = tmp_path / "sdss_short.toml"
    path.write_text(text)
    spec = read_spec(path)
    assert spec.model.space == "redshift" and spec.observables[2].lenses == "centrals"
    posterior = build_posterior(spec, progress=False)
    # the box's jackknife covariance (8 cubes, at the MAP) is added to the data's
    box = posterior.data.box_covariance
    assert box.shape == (111, 111) and np.all(np.diag(box) > 0) and np.linalg.eigvalsh(box)[0] > -1e-9 * box.max()
    assert np.all(np.diag(posterior.data.covariance) > np.diag(box))
    n = posterior.data.layout
    # SMF 10.1-11.6 (15 bins); wp: 3 bins x 12 rp <= 20 Mpc/h; DeltaSigma: 5 bins x 12 R >= 0.1 Mpc/h
    assert [b.kind for b in n.blocks].count("wp") == 3 and posterior.data.values.size == 15 + 36 + 60
    out = tmp_path / "run"
    idata, rows, run, warnings = fit(spec, out=str(out), progress=False, posterior=posterior)
    assert len(rows) == 5 and run["n_grad_sampling"] > 0
    assert all(np.isfinite(r["mean"]) for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    total = summary["chi_square"]["total"]
    assert total["n"] == 111 and total["dof"] == 106 and total["chi2"] > 0
    assert {"ppc.png", "smhm.png", "run.nc"} <= set(os.listdir(out))
