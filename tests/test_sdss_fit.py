"""A short SDSS fit that runs end to end (the ``short_sdss_run`` fixture of conftest.py,
which the SDSS notebook's test reads too). Skips without ../shared/data."""
import json
import os

import numpy as np
import pytest

from diffsham.survey import default_data_dir

pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(default_data_dir(), "smf_sdss_liwhite2009.csv")),
                                reason=f"the published SDSS tables are not at {default_data_dir()} (../shared/data)")


@pytest.mark.slow
def test_short_sdss_fit_runs(short_sdss_run):
    spec, posterior, out, (idata, rows, run, warnings) = short_sdss_run
    assert spec.model.space == "redshift" and spec.observables[2].lenses == "centrals"
    # the box's jackknife covariance (8 cubes, at the MAP) is added to the data's
    box = posterior.data.box_covariance
    assert box.shape == (111, 111) and np.all(np.diag(box) > 0) and np.linalg.eigvalsh(box)[0] > -1e-9 * box.max()
    assert np.all(np.diag(posterior.data.covariance) > np.diag(box))
    n = posterior.data.layout
    # SMF 10.1-11.6 (15 bins); wp: 3 bins x 12 rp <= 20 Mpc/h; DeltaSigma: 5 bins x 12 R >= 0.1 Mpc/h
    assert [b.kind for b in n.blocks].count("wp") == 3 and posterior.data.values.size == 15 + 36 + 60
    assert len(rows) == 5 and run["n_grad_sampling"] > 0
    assert all(np.isfinite(r["mean"]) for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    total = summary["chi_square"]["total"]
    assert total["n"] == 111 and total["dof"] == 106 and total["chi2"] > 0
    assert {"ppc.png", "smhm.png", "run.nc"} <= set(os.listdir(out))
