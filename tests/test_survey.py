"""Survey loaders against numbers read from the published tables by hand, and the unit
conversions. Skips where ../shared/data (the published tables) is absent."""
import os

import numpy as np
import pytest

from diffsham.survey import (SurveyDataError, default_data_dir, load_bernardi2013_smf, load_liwhite2009_smf,
                             load_mandelbaum2016_delta_sigma, load_yang2012_wp)
from diffsham.survey.units import delta_sigma_to_h1, density_to_h1, length_to_h1, log_mstar_to_h1

DATA = default_data_dir()
needs_data = pytest.mark.skipif(not os.path.isfile(os.path.join(DATA, "smf_sdss_liwhite2009.csv")),
                                reason=f"the published SDSS tables are not at {DATA} (../shared/data)")


def test_h_conversions():
    # M* = 1e10 Msun for h = 0.7 is 0.49e10 Msun/h^2; 1 Mpc is 0.7 Mpc/h; 1 Mpc^-3 is 1/0.343 h^3 Mpc^-3
    np.testing.assert_allclose(log_mstar_to_h1(10.0, 0.7), np.log10(0.49e10), atol=1e-12)
    np.testing.assert_allclose(length_to_h1(1.0, 0.7), 0.7)
    np.testing.assert_allclose(density_to_h1(1.0, 0.7), 1 / 0.343)
    np.testing.assert_allclose(delta_sigma_to_h1(0.7, 0.7), 1.0)
    np.testing.assert_allclose(log_mstar_to_h1(10.3, 1.0), 10.3)


@needs_data
def test_yang2012_mass_limit_by_hand():
    v = load_yang2012_wp(sm_bins=[(10.0, 10.5)])
    assert v.kind == "wp" and v.rows.shape == (14, 4)
    # wp_sdss_yang2012_mstar_bins.csv: Mass-limit,10.0,10.5,0.12,368.975 and 0.19,262.264
    np.testing.assert_allclose(v.rows[0], [10.0, 10.5, 0.12, 368.975])
    np.testing.assert_allclose(v.rows[1, 2:], [0.19, 262.264])
    # ..._Mass-limit_logM10.0-10.5_normcov.txt: M_00 = 0.0086, M_01 = 0.0046
    np.testing.assert_allclose(v.covariance[0, 0], 368.975**2 * 0.0086)
    np.testing.assert_allclose(v.covariance[0, 1], 368.975 * 262.264 * 0.0046)
    every = load_yang2012_wp()
    assert every.rows.shape == (70, 4) and every.sm_bins.tolist() == [[9.0, 9.5], [9.5, 10.0], [10.0, 10.5],
                                                                       [10.5, 11.0], [11.0, 11.5]]
    assert np.all(every.covariance[:14, 14:] == 0)  # independent bins
    np.testing.assert_allclose(load_yang2012_wp(sample="Volume1", sm_bins=[(9.0, 9.5)]).rows[0, 3], 270.582)


@needs_data
def test_smf_loaders_by_hand():
    lw = load_liwhite2009_smf(sm_range=(10.3, 11.5))
    assert lw.rows.shape == (12, 3)
    # smf_sdss_liwhite2009.csv: 10.3,10.4,...,0.0119744,0.000371657
    np.testing.assert_allclose(lw.rows[0], [10.3, 10.4, 0.0119744])
    np.testing.assert_allclose(lw.covariance[0, 0], 0.000371657**2)
    b = load_bernardi2013_smf()
    # smf_sdss_bernardi2013_serexp.csv: 9.050,-2.024,0.054 for h = 0.7
    shift = 2 * np.log10(0.7)
    np.testing.assert_allclose(b.rows[0], [9.0 + shift, 9.1 + shift, 10**-2.024 / 0.343])
    np.testing.assert_allclose(np.sqrt(b.covariance[0, 0]), 10**-2.024 / 0.343 * np.log(10) * 0.054)


@needs_data
def test_mandelbaum2016_red_and_blue_combined_by_hand():
    v = load_mandelbaum2016_delta_sigma(mstar_h=1.0, sm_bins=[(10.4, 10.7)])
    assert v.rows.shape == (15, 4)
    # red,10.4,10.7,0.0311,61.9196,13.0131 and blue,10.4,10.7,0.0311,42.9945,14.5289
    w = np.array([1 / 13.0131**2, 1 / 14.5289**2])
    np.testing.assert_allclose(v.rows[0], [10.4, 10.7, 0.0311, (w @ [61.9196, 42.9945]) / w.sum()])
    np.testing.assert_allclose(v.covariance[0, 0], 1 / w.sum())
    red_only = load_mandelbaum2016_delta_sigma(mstar_h=0.7, sm_bins=[(11.2, 11.4)])
    np.testing.assert_allclose(red_only.rows[0], [11.2 + 2 * np.log10(0.7), 11.4 + 2 * np.log10(0.7), 0.0311, 194.73])
    with pytest.raises(TypeError):
        load_mandelbaum2016_delta_sigma()  # the stellar-mass h convention must be stated


@needs_data
def test_bad_files_are_named(tmp_path):
    with pytest.raises(SurveyDataError, match="smf_sdss_liwhite2009.csv: survey data file not found"):
        load_liwhite2009_smf(str(tmp_path))
    (tmp_path / "smf_sdss_liwhite2009.csv").write_text("logM_lo,logM_hi,phi\n10,10.1,0.01\n")
    with pytest.raises(SurveyDataError, match=r"columns are \['logM_lo', 'logM_hi', 'phi'\], expected"):
        load_liwhite2009_smf(str(tmp_path))
    (tmp_path / "smf_sdss_liwhite2009.csv").write_text(
        "logM_lo,logM_hi,logM_median,phi,phi_err\n10,10.1,10.05,nan,0.001\n")
    with pytest.raises(SurveyDataError, match="column 'phi' has NaN"):
        load_liwhite2009_smf(str(tmp_path))
    src = open(os.path.join(DATA, "wp_sdss_yang2012_mstar_bins.csv")).read()
    (tmp_path / "wp_sdss_yang2012_mstar_bins.csv").write_text(src)
    np.savetxt(tmp_path / "wp_sdss_yang2012_Mass-limit_logM9.0-9.5_normcov.txt", np.eye(13))
    with pytest.raises(SurveyDataError, match=r"normcov.txt: matrix of shape \(13, 13\), expected \(14, 14\)"):
        load_yang2012_wp(str(tmp_path), sm_bins=[(9.0, 9.5)])
    with pytest.raises(SurveyDataError, match="no Mass-limit bins"):
        load_yang2012_wp(sm_bins=[(9.2, 9.7)])


SPEC = """
[[observables]]
kind = "smf"
source = "liwhite2009"
data_dir = "{data}"
sm_bins = [[10.3, 10.4], [10.4, 10.5], [10.5, 10.6]]

[[observables]]
kind = "wp"
source = "yang2012"
sample = "Volume2"
data_dir = "{data}"
sm_bins = [[10.0, 10.5], [10.5, 11.0]]
r_max = 35.0
"""


@needs_data
def test_a_spec_reads_survey_sources(tmp_path):
    """A spec binding two published tables: the data vector and covariance are the
    loaders', restricted to the spec's bins and scale cut, matched to the model's bins."""
    from types import SimpleNamespace

    from diffsham.infer import read_spec
    from diffsham.infer.data import load_data_vector
    from diffsham.infer.spec import SpecError
    from diffsham.model.layout import Layout

    (tmp_path / "sdss.toml").write_text(SPEC.format(data=DATA))
    spec = read_spec(tmp_path / "sdss.toml")
    assert spec.model.space == "redshift"  # the default where wp is a survey's
    (tmp_path / "real.toml").write_text('[model]\nspace = "real"\n' + SPEC.format(data=DATA))
    assert read_spec(tmp_path / "real.toml").model.space == "real"  # unless the spec says otherwise
    rp_edges = 10 ** (np.log10(0.12) - 0.1 + 0.2 * np.arange(14))  # 13 bins: 0.12 ... 30.1 Mpc/h
    model = SimpleNamespace(layout=Layout.from_bins(np.array(spec.observables[0].sm_bins),
                                                    np.array(spec.observables[1].sm_bins), None, rp_edges))
    data = load_data_vector(spec, model)
    assert data.values.size == 3 + 2 * 13  # wp at 47.7 Mpc/h is cut by r_max
    lw = load_liwhite2009_smf(sm_range=(10.3, 10.6))
    yang = load_yang2012_wp(sample="Volume2", sm_bins=[(10.0, 10.5)])
    np.testing.assert_allclose(data.values[:3], lw.values)
    np.testing.assert_allclose(data.values[3:16], yang.values[:13])
    np.testing.assert_allclose(data.covariance[3:16, 3:16], yang.covariance[:13, :13])
    assert np.all(data.covariance[:3, 3:] == 0)
    # the digest follows the tables a source reads, not only the spec's text
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    (tmp_path / "copy.toml").write_text(SPEC.format(data=copy))
    before = read_spec(tmp_path / "copy.toml").digest()
    table = copy / "smf_sdss_liwhite2009.csv"
    table.write_text(table.read_text().replace("0.0119744", "0.0119745"))
    assert read_spec(tmp_path / "copy.toml").digest() != before
    # the Mass-limit covariances of these two bins, as published (4 digits), are indefinite
    (tmp_path / "mass_limit.toml").write_text(SPEC.format(data=DATA).replace("Volume2", "Mass-limit"))
    with pytest.raises(SpecError, match="source yang2012: covariance is not positive definite"):
        load_data_vector(read_spec(tmp_path / "mass_limit.toml"), model)
    bad = SPEC.format(data=DATA).replace('sample = "Volume2"\n', "")
    (tmp_path / "bad.toml").write_text(bad)
    with pytest.raises(SpecError, match="sample is a key of source 'yang2012' only, and it needs one"):
        read_spec(tmp_path / "bad.toml")
    (tmp_path / "bad.toml").write_text(SPEC.format(data=DATA).replace('source = "liwhite2009"', 'source = "yang2012"'))
    with pytest.raises(SpecError, match="source 'yang2012' holds wp, not smf"):
        read_spec(tmp_path / "bad.toml")
    (tmp_path / "bad.toml").write_text(SPEC.format(data=str(tmp_path / "absent")))
    with pytest.raises(SpecError, match="source 'liwhite2009': .*survey data file not found"):
        load_data_vector(read_spec(tmp_path / "bad.toml"), model)


LENSING_SPEC = """
[[observables]]
kind = "delta_sigma"
source = "mandelbaum2016"
mstar_h = 0.7
lenses = "centrals"
data_dir = "{data}"
sm_bins = [[10.09, 10.39], [10.39, 10.69]]
"""
MANDELBAUM_R_EDGES = 10 ** (np.log10(0.0311) + 0.17372 * (np.arange(16) - 0.5))  # likelihoods/sdss_lensing.toml


@needs_data
def test_a_spec_reads_mandelbaum2016_in_h1_bins(tmp_path):
    """The paper's edges converted (10.4 + 2 log10 0.7 = 10.0902) match the spec's bins to
    1e-3 dex; each published R falls on one of the lensing bins (its centre is 2% off a
    geometric centre); default lensing radii are refused by name."""
    from types import SimpleNamespace

    from diffsham.catalog import DEFAULT_DS_RP_EDGES
    from diffsham.infer import read_spec
    from diffsham.infer.data import load_data_vector
    from diffsham.infer.spec import SpecError
    from diffsham.model.layout import Layout

    (tmp_path / "ds.toml").write_text(LENSING_SPEC.format(data=DATA))
    spec = read_spec(tmp_path / "ds.toml")
    assert spec.observables[0].lenses == "centrals"
    bins = np.array(spec.observables[0].sm_bins)
    model = SimpleNamespace(layout=Layout.from_bins(None, None, bins, None, MANDELBAUM_R_EDGES))
    data = load_data_vector(spec, model)
    paper = load_mandelbaum2016_delta_sigma(mstar_h=0.7, sm_bins=[(10.4, 10.7), (10.7, 11.0)])
    np.testing.assert_allclose(data.values, paper.values)
    np.testing.assert_array_equal(data.index, np.arange(30))
    np.testing.assert_allclose(np.diag(data.covariance), np.diag(paper.covariance))
    model = SimpleNamespace(layout=Layout.from_bins(None, None, bins, None, DEFAULT_DS_RP_EDGES))
    with pytest.raises(SpecError, match="r = 0.0311 is not a bin centre of the model"):
        load_data_vector(spec, model)
    (tmp_path / "bad.toml").write_text(LENSING_SPEC.format(data=DATA).replace('"centrals"', '"satellites"'))
    with pytest.raises(SpecError, match="lenses must be 'all' or 'centrals'"):
        read_spec(tmp_path / "bad.toml")
    (tmp_path / "bad.toml").write_text('[catalog]\nds_rp_edges = [0.1, 0.05]\n' + LENSING_SPEC.format(data=DATA))
    with pytest.raises(SpecError, match="ds_rp_edges must be two or more increasing positive radii"):
        read_spec(tmp_path / "bad.toml")
    (tmp_path / "bad.toml").write_text(LENSING_SPEC.format(data=DATA).replace("delta_sigma", "smf").replace(
        'source = "mandelbaum2016"\nmstar_h = 0.7\n', ""))
    with pytest.raises(SpecError, match="'centrals' is for delta_sigma only"):
        read_spec(tmp_path / "bad.toml")
