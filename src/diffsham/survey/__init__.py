"""Published SDSS measurements (``../shared/data``), read once and converted on load to
the project's h = 1 units: M* [Msun/h^2], r [Mpc/h], phi [h^3 Mpc^-3 dex^-1], wp [Mpc/h],
DeltaSigma [h Msun/pc^2]. Each loader returns a :class:`SurveyVector` whose rows are
those a spec's data file holds (``sm_lo sm_hi [r] value``) with their covariance, and
whose ``convention`` says what the paper's convention was and what was converted.
"""
from .bernardi2013 import load_bernardi2013_smf
from .liwhite2009 import load_liwhite2009_smf
from .mandelbaum2016 import load_mandelbaum2016_delta_sigma
from .published_smhm import PUBLISHED_SMHM, behroozi2013_log_mstar, moster2013_log_mstar
from .table import SurveyDataError, SurveyVector, default_data_dir
from .yang2012 import YANG2012_SAMPLES, load_yang2012_wp

# the tables a spec may name as an observable's ``source``: (statistic, loader)
SOURCES = {"yang2012": ("wp", load_yang2012_wp), "liwhite2009": ("smf", load_liwhite2009_smf),
           "bernardi2013": ("smf", load_bernardi2013_smf),
           "mandelbaum2016": ("delta_sigma", load_mandelbaum2016_delta_sigma)}

__all__ = ("SOURCES", "SurveyDataError", "SurveyVector", "default_data_dir", "load_yang2012_wp", "YANG2012_SAMPLES",
           "load_liwhite2009_smf", "load_bernardi2013_smf", "load_mandelbaum2016_delta_sigma", "PUBLISHED_SMHM",
           "behroozi2013_log_mstar", "moster2013_log_mstar")
