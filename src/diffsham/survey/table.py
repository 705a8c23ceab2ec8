"""What a survey loader returns, and the checked reading of the published tables."""
import os
from typing import NamedTuple

import numpy as np

__all__ = ("SurveyDataError", "SurveyVector", "read_csv", "read_matrix", "default_data_dir", "choose_bins")


class SurveyDataError(ValueError):
    """A survey file that is missing, malformed or not what its loader expects; the
    message names the file."""


class SurveyVector(NamedTuple):
    """One statistic of one paper, in h = 1 units.

    Attributes
    ----------
    kind : {"smf", "wp", "delta_sigma"}
    rows : ndarray of shape (n, 3) or (n, 4)
        ``sm_lo sm_hi value`` (SMF) or ``sm_lo sm_hi r value``, as a spec's data file.
    covariance : ndarray of shape (n, n)
    source : str
        The paper and the files read.
    convention : str
        The paper's units and h convention, and what was converted.
    """

    kind: str
    rows: np.ndarray
    covariance: np.ndarray
    source: str
    convention: str

    @property
    def values(self):
        return self.rows[:, -1]

    @property
    def sm_bins(self):
        """The distinct stellar-mass bins, in order: (n_bins, 2)."""
        _, first = np.unique(self.rows[:, :2], axis=0, return_index=True)
        return self.rows[np.sort(first), :2]


def default_data_dir():
    """``$DIFFSHAM_SURVEY_DATA``, else ``../shared/data`` beside the repository."""
    env = os.environ.get("DIFFSHAM_SURVEY_DATA")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "..", "shared", "data"))


def _existing(path):
    if not os.path.isfile(path):
        raise SurveyDataError(f"{path}: survey data file not found (the published tables live in ../shared/data, "
                              "or where $DIFFSHAM_SURVEY_DATA or the loader's data_dir points)")
    return path


def read_csv(path, columns):
    """A '#'-commented CSV whose header is exactly ``columns``: dict of column -> array
    (numbers as float, the rest as str). NaN or a missing value is an error."""
    with open(_existing(path)) as f:
        lines = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise SurveyDataError(f"{path}: no header and no rows")
    header = [c.strip() for c in lines[0].split(",")]
    if header != list(columns):
        raise SurveyDataError(f"{path}: columns are {header}, expected {list(columns)}")
    cells = [line.split(",") for line in lines[1:]]
    bad = [i for i, c in enumerate(cells) if len(c) != len(columns)]
    if bad:
        raise SurveyDataError(f"{path}: row {bad[0] + 1} has {len(cells[bad[0]])} fields, expected {len(columns)}")
    if not cells:
        raise SurveyDataError(f"{path}: no rows")
    out = {}
    for j, name in enumerate(columns):
        raw = [c[j].strip() for c in cells]
        try:
            values = np.array(raw, dtype=float)
        except ValueError:
            out[name] = np.array(raw)
            continue
        if not np.all(np.isfinite(values)):
            raise SurveyDataError(f"{path}: column {name!r} has NaN or infinite values (row "
                                  f"{int(np.argmax(~np.isfinite(values))) + 1})")
        out[name] = values
    return out


def read_matrix(path, n):
    """A '#'-commented whitespace matrix that must be (n, n) and finite."""
    try:
        m = np.loadtxt(_existing(path), comments="#", ndmin=2)
    except ValueError as exc:
        raise SurveyDataError(f"{path}: not a matrix of numbers ({exc})") from exc
    if m.shape != (n, n):
        raise SurveyDataError(f"{path}: matrix of shape {m.shape}, expected ({n}, {n})")
    if not np.all(np.isfinite(m)):
        raise SurveyDataError(f"{path}: matrix has NaN or infinite values")
    return m


def choose_bins(path, lo, hi, sm_bins, what="bins"):
    """The distinct (lo, hi) stellar-mass bins of a table, or the requested ``sm_bins``
    among them (an error names the file and the bins that are absent): (n, 2)."""
    edges = np.unique(np.stack([lo, hi], axis=1), axis=0)
    if sm_bins is None:
        return edges
    wanted = np.asarray(sm_bins, dtype=float).reshape(-1, 2)
    missing = [tuple(b) for b in wanted if not np.any(np.all(np.isclose(edges, b), axis=1))]
    if missing:
        raise SurveyDataError(f"{path}: no {what} {missing}; the bins are {edges.tolist()}")
    return wanted
