"""Mock data vectors: the exact prediction of a spec's model at a stated truth, a
covariance with SDSS-like errors and correlations, and optional Gaussian noise.

The covariance is a stated model, not a measurement:

* fractional errors: SMF 3% up to log M* 11.0, rising to 10% at 11.6; wp 3% up to
  rp = 0.3 Mpc/h, rising (in log rp) to 10% at 30 Mpc/h; DeltaSigma 10% up to R = 0.1
  Mpc/h, rising to 30% at 10 Mpc/h;
* correlations: SMF bins 0.4^|i - j|; within a wp (DeltaSigma) block
  exp(-|ln(r_i / r_j)| / 1.5) (1.0), times 0.5^|b - b'| between stellar-mass bins b, b';
  none between statistics. Each factor is positive definite, so the covariance is.

The files written are those a spec reads: smf.txt, wp.txt, delta_sigma.txt (rows of
``sm_lo sm_hi [r] value``), covariance.txt (joint, in that order), truth.json and
command.txt (the command that remakes them bit for bit).
"""
import json
import os

import numpy as np

from ..cache import atomic_tmp_path
from ..sham.params import PARAM_NAMES

__all__ = ("mock_covariance", "make_mock", "FILES")

FILES = {"smf": "smf.txt", "wp": "wp.txt", "delta_sigma": "delta_sigma.txt"}


def _ramp(x, x0, x1, lo, hi):
    return lo + (hi - lo) * np.clip((x - x0) / (x1 - x0), 0.0, 1.0)


def mock_covariance(layout, values):
    """The covariance model of the module docstring for a data vector on ``layout``."""
    n = layout.size
    frac = np.zeros(n)
    corr = np.zeros((n, n))
    for kind in ("smf", "wp", "delta_sigma"):
        blocks = layout.of_kind(kind)
        if not blocks:
            continue
        if kind == "smf":
            b = blocks[0]
            frac[b.slice] = _ramp(b.centres, 11.0, 11.6, 0.03, 0.10)
            i = np.arange(b.size)
            corr[b.slice, b.slice] = 0.4 ** np.abs(i[:, None] - i[None, :])
            continue
        length, (f_lo, f_hi, r0, r1) = (1.5, (0.03, 0.10, 0.3, 30.0)) if kind == "wp" else (1.0, (0.10, 0.30, 0.1, 10.0))
        for bi, a in enumerate(blocks):
            frac[a.slice] = _ramp(np.log10(a.centres), np.log10(r0), np.log10(r1), f_lo, f_hi)
            for bj, c in enumerate(blocks):
                lr = np.log(a.centres)[:, None] - np.log(c.centres)[None, :]
                corr[a.slice, c.slice] = 0.5 ** abs(bi - bj) * np.exp(-np.abs(lr) / length)
    sd = frac * np.abs(values)
    return corr * np.outer(sd, sd)


def _write_text(path, array, header):
    tmp = atomic_tmp_path(path)
    np.savetxt(tmp, array, header=header, fmt="%.17g")
    os.replace(tmp, path)


def make_mock(model, truth, out_dir, r_range=None, noise_seed=None, command=""):
    """Write a mock for ``truth`` (a dict of the five parameters).

    Parameters
    ----------
    model : ForwardModel
    truth : dict
    r_range : dict, optional
        Scale cuts, as ``Layout.select`` takes them.
    out_dir : str
    noise_seed : int, optional
        Add a Gaussian draw from the covariance (default: none, the exact prediction).
    command : str
        The command line, recorded in command.txt.

    Returns
    -------
    paths : dict of str
    """
    missing = [n for n in PARAM_NAMES if n not in truth]
    if missing:
        raise ValueError(f"the truth must give every parameter; missing {missing}")
    theta = np.array([float(truth[n]) for n in PARAM_NAMES])
    layout, index = model.layout.select(r_range=r_range)
    values = np.asarray(model.predict(theta))[index]
    cov = mock_covariance(layout, values)
    if noise_seed is not None:
        values = values + np.linalg.cholesky(cov) @ np.random.default_rng(noise_seed).standard_normal(values.size)
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for kind, name in FILES.items():
        blocks = layout.of_kind(kind)
        if not blocks:
            continue
        if kind == "smf":
            b = blocks[0]
            rows = np.column_stack([b.edges, values[b.slice]])
            header = "sm_lo sm_hi phi  [log10 Msun/h^2, h^3 Mpc^-3 dex^-1; h = 1]"
        else:
            rows = np.concatenate([np.column_stack([np.full(b.size, b.sm_bin[0]), np.full(b.size, b.sm_bin[1]),
                                                    b.centres, values[b.slice]]) for b in blocks])
            unit = "Mpc/h" if kind == "wp" else "h Msun/pc^2"
            header = f"sm_lo sm_hi r value  [log10 Msun/h^2, Mpc/h, {unit}; h = 1]"
        paths[kind] = os.path.join(out_dir, name)
        _write_text(paths[kind], rows, header)
    paths["covariance"] = os.path.join(out_dir, "covariance.txt")
    _write_text(paths["covariance"], cov, f"joint covariance of {', '.join(k for k in FILES if k in paths)} "
                "(model: diffsham.infer.mock)")
    for name, text in (("truth.json", json.dumps(dict(truth=dict(zip(PARAM_NAMES, theta.tolist())),
                                                     noise_seed=noise_seed), indent=1)),
                       ("command.txt", command + "\n")):
        path = os.path.join(out_dir, name)
        tmp = atomic_tmp_path(path)
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        paths[name] = path
    return paths
