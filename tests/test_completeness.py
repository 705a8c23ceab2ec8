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
