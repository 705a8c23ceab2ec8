"""Chi-square of a run against sums written out by hand."""
import json

import numpy as np


def _idata(data, cov, pred, labels, free=("logphi", "alpha")):
    import arviz as az

    idata = az.from_dict(posterior={"logphi": np.zeros((1, 3))}, observed_data={"data": data},
                         coords={"data_element": labels}, dims={"data": ["data_element"]},
                         attrs={"free": json.dumps(list(free))})
    idata.extend(az.from_dict(constant_data={"prediction": pred, "covariance": cov},
                              coords={"data_element": labels, "data_element_2": labels},
                              dims={"prediction": ["chain", "kept_draw", "data_element"],
                                    "covariance": ["data_element", "data_element_2"]}))
    return idata


def test_chi_square_per_observable_bin_and_total():
    from scipy.stats import chi2

    from diffsham.infer.goodness import chi_square_table

    labels = ["smf[10.10,10.20]", "smf[10.20,10.30]", "wp[10.00,10.50] r=0.12", "wp[10.00,10.50] r=0.19",
              "wp[10.50,11.00] r=0.12"]
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    sd = np.array([0.1, 0.2, 0.5, 1.0, 2.0])
    cov = np.diag(sd**2)
    cov[2, 3] = cov[3, 2] = 0.25  # correlated wp points: the bin's chi2 uses the 2x2 block
    good = data + np.array([0.1, -0.2, 0.5, 0.0, 2.0])
    pred = np.stack([data + 1.0, good, data - 1.0])[None]  # (1 chain, 3 draws, 5)
    t = chi_square_table(_idata(data, cov, pred, labels))
    assert t["draw"] == [0, 1]
    r = data - good
    assert np.isclose(t["total"]["chi2"], r @ np.linalg.solve(cov, r))
    assert t["total"]["dof"] == 5 - 2
    assert np.isclose(t["total"]["p"], chi2.sf(t["total"]["chi2"], 3))
    by = {row["name"]: row for row in t["observables"] + t["bins"]}
    assert np.isclose(by["smf"]["chi2"], 1.0 + 1.0) and by["smf"]["n"] == 2
    block = cov[2:4, 2:4]
    assert np.isclose(by["wp[10.00,10.50]"]["chi2"], r[2:4] @ np.linalg.solve(block, r[2:4]))
    assert np.isclose(by["wp[10.50,11.00]"]["chi2"], 1.0)
    assert np.isclose(by["wp"]["chi2"], r[2:] @ np.linalg.solve(cov[2:, 2:], r[2:]))


def test_posterior_against_the_supported_domain_is_named():
    import arviz as az

    from diffsham.infer.results import run_warnings

    rng = np.random.default_rng(0)
    alpha = -0.95 - np.abs(rng.normal(0, 0.005, (2, 200)))  # piled against the domain's upper edge
    logmc = rng.normal(10.6, 0.05, (2, 200))
    idata = az.from_dict(posterior={"alpha": alpha, "logmc": logmc},
                         sample_stats={"diverging": np.zeros((2, 200), bool), "tree_depth": np.full((2, 200), 3),
                                       "energy": rng.normal(0, 1, (2, 200))})
    rows = [dict(parameter=n, r_hat=1.0, ess_bulk=1000.0, ess_tail=1000.0) for n in ("alpha", "logmc")]
    out = run_warnings(idata, rows, prior_bounds={"alpha": (-1.35, -0.95), "logmc": (10.3, 10.9)})
    assert len(out) == 1 and out[0].startswith("alpha: ") and "upper bound -0.95: the edge of the supported domain" in out[0]
    out = run_warnings(idata, rows, prior_bounds={"alpha": (-1.35, -0.949)})
    assert "supported domain" not in out[0]
