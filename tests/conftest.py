import os

import jax
import pytest

# diffsham sets no JAX option at import; the tests call low-level kernels directly, so
# they ask for float64 themselves, as a user calling those kernels would
jax.config.update("jax_enable_x64", True)

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture(scope="session", autouse=True)
def cache_under_tmp(tmp_path_factory):
    """Every cache the tests write (catalogs, tabulations) lies under pytest's tmp_path."""
    previous = os.environ.get("DIFFSHAM_CACHE")
    os.environ["DIFFSHAM_CACHE"] = str(tmp_path_factory.mktemp("diffsham_cache"))
    yield
    if previous is None:
        os.environ.pop("DIFFSHAM_CACHE", None)
    else:
        os.environ["DIFFSHAM_CACHE"] = previous


@pytest.fixture(scope="session")
def small_catalog():
    """A 40 Mpc/h synthetic box (log Mpeak >= 11.3) with analytic lensing profiles."""
    from diffsham.catalog import DEFAULT_DS_RP_EDGES, SyntheticConfig, analytic_delta_sigma, make_synthetic_catalog

    cat = make_synthetic_catalog(SyntheticConfig(lbox=40.0, logmpeak_min=11.3, seed=9, n_grid=32), progress=False)
    return cat.with_delta_sigma(analytic_delta_sigma(cat, progress=False), DEFAULT_DS_RP_EDGES, "analytic")


@pytest.fixture(scope="session")
def small_model(small_catalog):
    """The default forward model (SHAMNet refined, tabulated) of ``small_catalog``: SMF,
    wp and DeltaSigma in two stellar-mass bins."""
    import numpy as np

    from diffsham.model import make_forward_model

    sm_bins = np.array([[9.8, 10.4], [10.4, 11.0]])
    smf_bins = np.stack([np.linspace(10.0, 11.0, 6), np.linspace(10.2, 11.2, 6)], axis=1)
    return make_forward_model(small_catalog, smf_bins, sm_bins, sm_bins, rp_edges=np.logspace(-1, 1, 9), pi_max=12.0,
                              dlogm=0.01, progress=False)


@pytest.fixture(scope="session")
def shared_data_dir():
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"published SDSS measurements not found at {os.path.abspath(SHARED_DATA)}")
    return SHARED_DATA


def sdss_data_available():
    from diffsham.survey import default_data_dir

    return os.path.isfile(os.path.join(default_data_dir(), "smf_sdss_liwhite2009.csv"))


@pytest.fixture(scope="session")
def short_sdss_run(tmp_path_factory):
    """A short fit of likelihoods/sdss_lensing.toml (Li & White SMF, Yang wp in redshift
    space, Mandelbaum DeltaSigma of central galaxies, plus the box's jackknife covariance
    with 2^3 cubes) on a 100 Mpc/h box (the smallest that holds pi_max = 40) with the
    spec's cut and bins, and short chains: ``(spec, posterior, run folder, fit's return)``."""
    import re

    from diffsham.infer import build_posterior, fit, read_spec
    from diffsham.survey import default_data_dir

    if not sdss_data_available():
        pytest.skip(f"the published SDSS tables are not at {default_data_dir()} (../shared/data)")
    text = open(os.path.join(os.path.dirname(__file__), "..", "likelihoods", "sdss_lensing.toml")).read()
    text = re.sub(r"(?m)^lbox = 250.0$", "lbox = 100.0\nn_grid = 32", text)
    text = re.sub(r"(?m)^(chains|warmup|samples|checkpoint_every) = \d+$",
                  lambda m: f"{m.group(1)} = {dict(chains=2, warmup=40, samples=20, checkpoint_every=20)[m.group(1)]}",
                  text)
    text = text.replace("[sampler]", '[likelihood]\nbox_covariance = "jackknife"\njackknife_n_side = 2\n\n[sampler]')
    assert "lbox = 100.0" in text and "warmup = 40" in text and "jackknife_n_side = 2" in text
    folder = tmp_path_factory.mktemp("sdss_short")
    path = folder / "sdss_short.toml"
    path.write_text(text)
    spec = read_spec(path)
    posterior = build_posterior(spec, progress=False)
    out = folder / "run"
    return spec, posterior, out, fit(spec, out=str(out), progress=False, posterior=posterior)
