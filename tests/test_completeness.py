"""The fraction of a stellar-mass bin's galaxies that a catalog's mass cut leaves out,
against the SMF the forward model predicts from a catalog cut there."""
import numpy as np
from jax import numpy as jnp

from diffsham.model import make_forward_model
from diffsham.model.completeness import fraction_below_cut, worst_fraction_below_cut
from diffsham.model.smhm import make_smhm
from diffsham.sham.params import DEFAULT_SHAM_PARAMS, SUPPORTED_HI, SUPPORTED_LO, TARGET_LOG_PHI, target_smf_params
from diffsham.sham.smf import smf_in_bins
from diffsham.shamnet.io import load_shamnet

BINS = np.array([[9.4, 9.6], [9.6, 9.8], [9.8, 10.0], [10.0, 10.2], [10.2, 10.4]])
THETA = np.asarray(DEFAULT_SHAM_PARAMS)


def test_fraction_below_cut_matches_the_catalogs_missing_galaxies(small_catalog):
    """Exact SHAM on the model SHMF makes the full population's SMF the Schechter target,
    so a catalog cut at log Mpeak_min predicts (1 - f_b) of it. The synthetic catalog is
    a Poisson draw of the SHMF in a 40 Mpc/h box: its complete bins scatter by ~5%."""
    smhm = make_smhm("shamnet", load_shamnet(), "direct")
    f = fraction_below_cut(smhm, THETA, BINS, float(small_catalog.logmpeak.min()))
    model = make_forward_model(small_catalog, smf_bins=BINS, path="exact", progress=False)
    assert model.abundance == "model"
    target = np.array([float(smf_in_bins(TARGET_LOG_PHI, jnp.asarray(b), *target_smf_params(DEFAULT_SHAM_PARAMS))[0])
                       for b in BINS])
    missing = 1.0 - np.asarray(model.predict(THETA)) / target
    assert f[0] > 0.5 and f[-1] < 0.01 and np.all(np.diff(f) < 0)
    np.testing.assert_allclose(missing, f, atol=0.06)


def test_limits_and_the_worst_case():
    smhm = make_smhm("shamnet_alone", load_shamnet(), "direct")
    np.testing.assert_allclose(fraction_below_cut(smhm, THETA, BINS, 10.0), 0.0)  # nothing below the grid
    np.testing.assert_allclose(fraction_below_cut(smhm, THETA, BINS, 16.5), 1.0)  # everything below
    np.testing.assert_allclose(worst_fraction_below_cut(smhm, BINS, 10.0, SUPPORTED_LO, SUPPORTED_HI), 0.0)
    # over the supported box the lowest bin can come wholly from halos below 11.3
    assert worst_fraction_below_cut(smhm, BINS, 11.3, SUPPORTED_LO, SUPPORTED_HI)[0] > 0.9


def test_a_spec_is_warned_of_incomplete_bins(small_model):
    """A fit of real galaxies needs every bin complete: the warning names the bins, and
    a spec may raise its threshold (a mock drawn from the same catalog misses the same
    galaxies in data and model)."""
    import pytest

    from diffsham.infer.posterior import check_completeness
    from diffsham.infer.spec import parse_spec

    doc = {"observables": [{"kind": "smf", "sm_bins": [[10.0, 10.2]], "data": "x"}]}
    spec = parse_spec(doc, "s.toml")
    with pytest.warns(RuntimeWarning, match=r"s.toml: the catalog \(log Mpeak >= 11.30\) is incomplete for "
                                            r"smf\[10, 10.2\] \(up to .*wp\[9.8, 10.4\]"):
        worst = check_completeness(spec, small_model)
    assert set(worst) == {"smf[10, 10.2]", "smf[10.2, 10.4]", "smf[10.4, 10.6]", "smf[10.6, 10.8]", "smf[10.8, 11]",
                          "smf[11, 11.2]", "wp[9.8, 10.4]", "wp[10.4, 11]", "delta_sigma[9.8, 10.4]",
                          "delta_sigma[10.4, 11]"}
    lenient = parse_spec(dict(doc, likelihood={"max_incompleteness": 1.0}), "s.toml")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_completeness(lenient, small_model) == worst
    from diffsham.infer.spec import SpecError

    with pytest.raises(SpecError, match=r"max_incompleteness must be a number in \(0, 1\], got 2"):
        parse_spec(dict(doc, likelihood={"max_incompleteness": 2}), "s.toml")
