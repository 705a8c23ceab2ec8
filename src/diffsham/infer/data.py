"""Data vectors and covariances of a spec, matched to the forward model's Layout.

Each observable's file gives (sm_lo, sm_hi, [r,] value) rows; every row must be one of
the model's bins (its stellar-mass bin from the spec, its r one of the model's bin
centres to 1e-3), and scale cuts keep the rows with r_min <= r <= r_max. Covariances
are over the rows of the data files in spec order (SMF, wp, DeltaSigma); they must be
symmetric and positive definite. Files are read with NumPy as data, never as code.
"""
import os
from typing import NamedTuple

import numpy as np

from ..model.layout import Layout
from .spec import SpecError

__all__ = ("DataVector", "load_data_vector", "check_covariance", "model_bins", "survey_table")


class DataVector(NamedTuple):
    """The data a likelihood compares to the model.

    Attributes
    ----------
    values : ndarray of shape (n, )
    covariance : ndarray of shape (n, n)
        With the model-error terms and the Hartlap factor applied.
    index : ndarray of int, shape (n, )
        Positions of the data in the model's full data vector.
    layout : Layout
        The blocks and bins of ``values``.
    box_covariance : ndarray of shape (n, n) or None
        The simulation box's jackknife covariance of the prediction, where the spec adds
        it (already included in ``covariance``).
    """

    values: np.ndarray
    covariance: np.ndarray
    index: np.ndarray
    layout: Layout
    box_covariance: np.ndarray | None = None


def model_bins(spec):
    """(smf_bins, wp_bins, ds_bins) of a spec, None where absent."""
    bins = {o.kind: np.array(o.sm_bins, dtype=float) for o in spec.observables}
    return bins.get("smf"), bins.get("wp"), bins.get("delta_sigma")


def _read_table(path, n_cols, where):
    if not os.path.isfile(path):
        raise SpecError(f"{where}: data file {path} not found")
    try:
        table = np.loadtxt(path, comments="#", ndmin=2, dtype=float)
    except ValueError as exc:
        raise SpecError(f"{where}: {path} is not a whitespace-separated table of numbers ({exc})") from exc
    if table.shape[0] == 0:
        raise SpecError(f"{where}: {path} holds no rows")
    if table.shape[1] < n_cols:
        raise SpecError(f"{where}: {path} has {table.shape[1]} columns, at least {n_cols} are needed")
    if not np.all(np.isfinite(table)):
        bad = int(np.argmax(~np.all(np.isfinite(table), axis=1)))
        raise SpecError(f"{where}: {path} has NaN or infinite values (first in row {bad})")
    return table


def check_covariance(cov, n, where):
    """Symmetric, positive definite, of size (n, n); SpecError naming what fails."""
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (n, n):
        raise SpecError(f"{where}: covariance has shape {cov.shape}, the data vector has {n} elements")
    if not np.all(np.isfinite(cov)):
        raise SpecError(f"{where}: covariance has NaN or infinite values")
    if not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12 * np.max(np.abs(np.diag(cov)))):
        i, j = np.unravel_index(np.argmax(np.abs(cov - cov.T)), cov.shape)
        raise SpecError(f"{where}: covariance is not symmetric (C[{i},{j}] = {cov[i, j]:g}, C[{j},{i}] = {cov[j, i]:g})")
    eig = np.linalg.eigvalsh(cov)
    if eig[0] <= 0:
        raise SpecError(f"{where}: covariance is not positive definite (smallest eigenvalue {eig[0]:.3g}, "
                        f"largest {eig[-1]:.3g})")
    return cov


def survey_table(obs, spec, where):
    """(rows, covariance) of an observable's survey source, restricted to its sm_bins."""
    from .. import survey

    options = {"yang2012": {"sample": obs.sample}, "mandelbaum2016": {"mstar_h": obs.mstar_h}}.get(obs.source, {})
    folder = spec.resolve(obs.data_dir) if obs.data_dir else None
    try:
        vector = survey.SOURCES[obs.source][1](folder, **options)
    except (survey.SurveyDataError, ValueError) as exc:
        raise SpecError(f"{where}: source {obs.source!r}: {exc}") from exc
    bins = np.asarray(obs.sm_bins, dtype=float)
    sm = vector.rows[:, :2]
    if obs.kind == "smf":
        keep = (sm[:, 0] >= bins.min() - 1e-6) & (sm[:, 1] <= bins.max() + 1e-6)
        rows = vector.rows
    else:  # the scale cut first: published radii beyond the model's bins are dropped by it
        # converted edges (Mandelbaum 2016: 10.4 + 2 log10 0.7 = 10.0902) match a spec's
        # bin to 1e-3 dex, and take the spec's edges
        match = np.all(np.isclose(sm[:, None, :], bins[None], atol=1e-3), axis=2)
        keep = np.any(match, axis=1)
        keep &= (vector.rows[:, 2] >= obs.r_min) & (vector.rows[:, 2] <= obs.r_max)
        rows = vector.rows.copy()
        rows[keep, :2] = bins[np.argmax(match[keep], axis=1)]
    if not np.any(keep):
        raise SpecError(f"{where}: source {obs.source!r} has no rows in the spec's sm_bins; its bins are "
                        f"{np.unique(sm, axis=0).round(4).tolist()}")
    return rows[keep], vector.covariance[np.ix_(keep, keep)]


def load_data_vector(spec, model):
    """The spec's data, covariance and their place in ``model``'s data vector."""
    values, rows_index, covs, keep_all, model_err = [], [], [], [], []
    for i, obs in enumerate(spec.observables):
        where = f"{spec.path}: [observables[{i}]] ({obs.kind})"
        if obs.h != 1.0:
            raise SpecError(f"{where}: h = {obs.h}: give the data in h = 1 units (the loaders of survey data convert)")
        survey_cov = None
        if obs.source is not None:
            table, survey_cov = survey_table(obs, spec, where)
            # published radii are rounded (Yang 2012: 0.19 for 10^-0.721) or are not the
            # bins' geometric centres (Mandelbaum 2016: 2% above): a radius matches the
            # bin whose geometric centre lies within a tenth of the bin's log width
            r_tol = None
        else:
            if obs.data is None:
                raise SpecError(f"{where}: no data file")
            n_cols = 3 if obs.kind == "smf" else 4
            cols = obs.columns or tuple(range(n_cols))
            if len(cols) != n_cols:
                raise SpecError(f"{where}: columns must name {n_cols} columns, got {list(cols)}")
            table = _read_table(spec.resolve(obs.data), max(cols) + 1, where)[:, list(cols)]
            r_tol = 1e-3
        blocks = model.layout.of_kind(obs.kind)
        keep = np.zeros(table.shape[0], dtype=bool)
        index = np.full(table.shape[0], -1)
        for row, line in enumerate(table):
            sm = (line[0], line[1])
            if obs.kind == "smf":
                hits = np.flatnonzero(np.all(np.isclose(blocks[0].edges, sm, atol=1e-6), axis=1))
                if hits.size == 0:
                    raise SpecError(f"{where}: row {row} bin {sm} is not one of the spec's sm_bins")
                index[row] = blocks[0].start + hits[0]
                keep[row] = obs.r_min <= blocks[0].centres[hits[0]] <= obs.r_max
                continue
            block = [b for b in blocks if np.allclose(b.sm_bin, sm, atol=1e-6)]
            if not block:
                raise SpecError(f"{where}: row {row} stellar-mass bin {sm} is not one of the spec's sm_bins")
            b = block[0]
            if r_tol is None:
                log_width = np.log10(b.edges[1:] / b.edges[:-1])
                hits = np.flatnonzero(np.abs(np.log10(line[2] / b.centres)) <= 0.1 * log_width)
            else:
                hits = np.flatnonzero(np.isclose(b.centres, line[2], rtol=r_tol))
            if hits.size == 0:
                raise SpecError(f"{where}: row {row}: r = {line[2]:g} is not a bin centre of the model "
                                f"({np.round(b.centres, 4).tolist()})")
            index[row] = b.start + hits[0]
            keep[row] = obs.r_min <= line[2] <= obs.r_max
        if np.unique(index).size != index.size:
            raise SpecError(f"{where}: some rows repeat a bin")
        values.append(table[:, -1])
        rows_index.append(index)
        keep_all.append(keep)
        model_err.append(np.full(table.shape[0], obs.model_error))
        if survey_cov is not None:
            if spec.covariance is not None:
                raise SpecError(f"{where}: source {obs.source!r} carries its own covariance; a joint [likelihood] "
                                "covariance cannot also cover it")
            covs.append(check_covariance(survey_cov, table.shape[0], f"{where}: source {obs.source}"))
        elif obs.covariance:
            cov = _read_table(spec.resolve(obs.covariance), 1, where)
            covs.append(check_covariance(cov, table.shape[0], f"{where}: {obs.covariance}"))
        elif spec.covariance is None:
            raise SpecError(f"{where}: no covariance (give one per observable or a joint one in [likelihood])")
    values = np.concatenate(values)
    index = np.concatenate(rows_index)
    keep = np.concatenate(keep_all)
    if spec.covariance is not None:
        path = spec.resolve(spec.covariance)
        cov = check_covariance(_read_table(path, 1, f"{spec.path}: [likelihood]"), values.size,
                               f"{spec.path}: [likelihood] covariance {spec.covariance}")
    else:
        cov = np.zeros((values.size, values.size))
        start = 0
        for c in covs:
            cov[start:start + c.shape[0], start:start + c.shape[0]] = c
            start += c.shape[0]
    cov = cov + np.diag((np.concatenate(model_err) * values) ** 2)
    order = np.argsort(index[keep])
    sel = np.flatnonzero(keep)[order]
    values, index, cov = values[sel], index[sel], cov[np.ix_(sel, sel)]
    if spec.hartlap_n_mocks is not None:
        n_mocks, p = int(spec.hartlap_n_mocks), values.size
        if n_mocks <= p + 2:
            raise SpecError(f"{spec.path}: [likelihood] hartlap_n_mocks = {n_mocks} must exceed the data length + 2 "
                            f"= {p + 2}")
        cov = cov * (n_mocks - 1.0) / (n_mocks - p - 2.0)
    layout = _sub_layout(model.layout, index)
    return DataVector(values, check_covariance(cov, values.size, spec.path), index, layout)


def _sub_layout(layout, index):
    """The Layout of ``vector[index]`` (index sorted, within blocks)."""
    blocks, start = [], 0
    for b in layout.blocks:
        inside = index[(index >= b.start) & (index < b.stop)] - b.start
        if inside.size == 0:
            continue
        if b.kind == "smf":
            edges = b.edges[inside]
        else:
            edges = np.concatenate([b.edges[inside], b.edges[inside[-1] + 1:inside[-1] + 2]])
        blocks.append(b._replace(edges=edges, centres=b.centres[inside], start=start, stop=start + inside.size))
        start += inside.size
    return Layout(tuple(blocks))
