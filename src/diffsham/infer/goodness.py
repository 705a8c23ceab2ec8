"""How well a run's model fits its data: chi-square, in total and per observable and
stellar-mass bin, at the best of the draws whose exact predictions the run stored.

chi2 = r^T C^-1 r with r = data - prediction and C the likelihood's covariance (its
sub-block for an observable or a bin, i.e. the marginal chi-square of those elements).
The total has n_data - n_free degrees of freedom; an observable or a bin is given its
number of elements n, which overstates its degrees of freedom by the share of the fitted
parameters it takes. The p-values are those of a chi-square with that many degrees of
freedom.
"""
import json

import numpy as np

__all__ = ("chi_square_table", "format_chi_square")


def _chi2(r, cov):
    return float(r @ np.linalg.solve(cov, r))


def chi_square_table(idata):
    """Chi-square of a run at its best stored draw.

    Parameters
    ----------
    idata : arviz.InferenceData
        With the constant_data group (``prediction``, ``covariance``) of ``fit``.

    Returns
    -------
    table : dict
        ``total`` (n, dof, chi2, chi2_per_dof, p), ``observables`` and ``bins`` (lists of
        dicts with name, n, chi2, chi2_per_n, p) and ``draw``, the (chain, kept_draw)
        index of the prediction used.
    """
    from scipy.stats import chi2 as chi2_dist

    labels = [str(s) for s in np.asarray(idata.observed_data["data_element"])]
    data = np.asarray(idata.observed_data["data"])
    cov = np.asarray(idata.constant_data["covariance"])
    pred = np.asarray(idata.constant_data["prediction"])
    flat = pred.reshape(-1, data.size)
    resid = data[None] - flat
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, resid.T)
    best = int(np.argmin(np.sum(z * z, axis=0)))
    r = resid[best]
    n_free = len(json.loads(idata.attrs["free"]))

    def row(name, idx):
        value = _chi2(r[idx], cov[np.ix_(idx, idx)])
        return dict(name=name, n=int(idx.size), chi2=value, chi2_per_n=value / idx.size,
                    p=float(chi2_dist.sf(value, idx.size)))

    blocks = np.array([lab.split(" ")[0] if not lab.startswith("smf") else "smf" for lab in labels])
    kinds = np.array([b.split("[")[0] for b in blocks])
    observables = [row(k, np.flatnonzero(kinds == k)) for k in dict.fromkeys(kinds)]
    bins = [row(b, np.flatnonzero(blocks == b)) for b in dict.fromkeys(blocks) if b != "smf"]
    total = _chi2(r, cov)
    dof = max(data.size - n_free, 1)
    return dict(total=dict(n=int(data.size), dof=int(dof), chi2=total, chi2_per_dof=total / dof,
                           p=float(chi2_dist.sf(total, dof))),
                observables=observables, bins=bins, draw=[int(i) for i in np.unravel_index(best, pred.shape[:2])])


def format_chi_square(table):
    """Printed lines of ``chi_square_table``."""
    t = table["total"]
    lines = [f"chi2 at the best stored draw: total {t['chi2']:.1f} for {t['dof']} dof ({t['n']} data), "
             f"chi2/dof {t['chi2_per_dof']:.2f}, p = {t['p']:.2g}"]
    for r in table["observables"] + table["bins"]:
        lines.append(f"  {r['name']:>24}: chi2 {r['chi2']:8.1f} for {r['n']:3d} points ({r['chi2_per_n']:.2f} per point, "
                     f"p = {r['p']:.2g})")
    return lines
