"""Results of a run: one ArviZ InferenceData in netCDF, a summary table, and the
warnings a user needs.

ArviZ 0.23 (what pip installs on Python 3.11) is written to: ``az.from_dict``,
``az.ess``, ``az.rhat``, ``az.mcse``, ``az.bfmi``; column names of ``az.summary`` are not
relied on.
"""
import json
import os
from importlib import metadata

import numpy as np

from ..cache import atomic_tmp_path
from ..sham.params import PARAM_NAMES, SUPPORTED_HI, SUPPORTED_LO

__all__ = ("to_inference_data", "summary_table", "run_warnings", "write_summary", "SUMMARY_COLUMNS")

SUMMARY_COLUMNS = ("parameter", "mean", "sd", "q16", "q84", "q2.5", "q97.5", "ess_bulk", "ess_tail", "r_hat",
                   "mcse_mean", "truth")


def _versions():
    out = {}
    for pkg in ("diffsham", "jax", "numpyro", "blackjax", "arviz", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def to_inference_data(posterior, result, predictions=None, smhm=None, smhm_logmpeak=None, extra_attrs=None):
    """InferenceData of a run.

    Groups: posterior (the five parameters, fixed ones constant), sample_stats,
    observed_data (the data vector on the Layout's coordinates), and, with
    ``predictions``, posterior_predictive (prediction plus a draw of the data noise) and
    constant_data (the exact predictions and the covariance). Attributes: the spec, its
    digest, the model config and its digest, package versions, timings, gradient counts.

    Parameters
    ----------
    posterior : Posterior
    result : RunResult
    predictions : ndarray of shape (chains, kept_draws, n_data), optional
        Exact predictions at a thinned set of draws.
    smhm, smhm_logmpeak : ndarrays of shape (chains, kept_draws, n_m) and (n_m, ), optional
        <log M*> at those draws, at log Mpeak ``smhm_logmpeak``.
    """
    import arviz as az

    data = posterior.data
    labels = data.layout.labels()
    post = dict(result.posterior)
    chains, draws = next(iter(post.values())).shape
    for name, value in posterior.fixed.items():
        post[name] = np.full((chains, draws), value)
    attrs = dict(spec=posterior.spec.text, spec_path=posterior.spec.path, spec_digest=posterior.spec.digest(),
                 model_config=json.dumps(posterior.model.config.to_dict()), config_digest=posterior.model.config.digest(),
                 abundance=posterior.model.abundance, versions=json.dumps(_versions()), method=result.method,
                 warmup_seconds=result.warmup_seconds, sampling_seconds=result.sampling_seconds,
                 compile_seconds=result.compile_seconds,
                 n_grad_warmup=result.n_grad_warmup, n_grad_sampling=result.n_grad_sampling,
                 free=json.dumps(list(posterior.free)), fixed=json.dumps(posterior.fixed),
                 truth=json.dumps(posterior.spec.truth or {}), **(extra_attrs or {}))
    idata = az.from_dict(posterior=post, sample_stats=result.sample_stats, observed_data={"data": data.values},
                         coords={"data_element": labels}, dims={"data": ["data_element"]}, attrs=attrs)
    if predictions is not None:
        noise = np.random.default_rng(0).standard_normal(predictions.shape) @ np.linalg.cholesky(data.covariance).T
        coords = {"data_element": labels, "data_element_2": labels}
        idata.extend(az.from_dict(posterior_predictive={"data": predictions + noise}, coords=coords,
                                  dims={"data": ["data_element"]}))
        constant = {"prediction": predictions, "covariance": data.covariance}
        cdims = {"prediction": ["chain", "kept_draw", "data_element"], "covariance": ["data_element", "data_element_2"]}
        if data.box_covariance is not None:
            constant["box_covariance"] = data.box_covariance
            cdims["box_covariance"] = ["data_element", "data_element_2"]
        if smhm is not None:
            constant.update(smhm=smhm, smhm_logmpeak=smhm_logmpeak)
            cdims.update(smhm=["chain", "kept_draw", "logmpeak"], smhm_logmpeak=["logmpeak"])
            coords["logmpeak"] = smhm_logmpeak
        idata.extend(az.from_dict(constant_data=constant, coords=dict(coords, chain=np.arange(predictions.shape[0]),
                                                                      kept_draw=np.arange(predictions.shape[1])),
                                  dims=cdims))
    return idata


def summary_table(idata):
    """Rows of SUMMARY_COLUMNS (dicts) for every parameter, plus run-level figures."""
    import arviz as az

    free = json.loads(idata.attrs["free"])
    truth = json.loads(idata.attrs.get("truth", "{}"))
    rows = []
    ess_bulk = az.ess(idata, var_names=free, method="bulk")
    ess_tail = az.ess(idata, var_names=free, method="tail")
    rhat = az.rhat(idata, var_names=free)
    mcse = az.mcse(idata, var_names=free, method="mean")
    for name in free:
        x = np.asarray(idata.posterior[name]).ravel()
        q = np.percentile(x, [16, 84, 2.5, 97.5])
        rows.append(dict(parameter=name, mean=float(x.mean()), sd=float(x.std(ddof=1)), q16=q[0], q84=q[1],
                         **{"q2.5": q[2], "q97.5": q[3]}, ess_bulk=float(ess_bulk[name]), ess_tail=float(ess_tail[name]),
                         r_hat=float(rhat[name]), mcse_mean=float(mcse[name]), truth=truth.get(name, float("nan"))))
    sampling_s = float(idata.attrs["sampling_seconds"])
    n_grad = int(idata.attrs["n_grad_sampling"])
    min_ess = min(r["ess_bulk"] for r in rows)
    run = dict(min_ess_bulk=min_ess, ess_per_second=min_ess / max(sampling_s, 1e-9),
               ess_per_gradient=min_ess / max(n_grad, 1), sampling_seconds=sampling_s,
               warmup_seconds=float(idata.attrs["warmup_seconds"]), n_grad_sampling=n_grad,
               n_grad_warmup=int(idata.attrs["n_grad_warmup"]),
               divergences=int(np.sum(np.asarray(idata.sample_stats["diverging"]))))
    return rows, run


def run_warnings(idata, rows, max_tree_depth=10, prior_bounds=None):
    """Messages for divergences, R-hat > 1.01, ESS < 400, E-BFMI < 0.3, trees at the
    maximum depth, and posterior mass piled against a prior bound."""
    import arviz as az

    out = []
    div = int(np.sum(np.asarray(idata.sample_stats["diverging"])))
    if div:
        out.append(f"{div} divergent transitions: the posterior may be biased; look at where they sit")
    for r in rows:
        if r["r_hat"] > 1.01:
            out.append(f"{r['parameter']}: R-hat {r['r_hat']:.3f} > 1.01 (chains disagree; sample longer)")
        if r["ess_bulk"] < 400 or r["ess_tail"] < 400:
            out.append(f"{r['parameter']}: ESS bulk {r['ess_bulk']:.0f}, tail {r['ess_tail']:.0f} < 400")
    try:
        bfmi = np.atleast_1d(az.bfmi(idata))
        for c, b in enumerate(bfmi):
            if b < 0.3:
                out.append(f"chain {c}: E-BFMI {b:.2f} < 0.3 (the momentum resampling explores the energy poorly)")
    except (KeyError, ValueError):
        pass
    depth = np.asarray(idata.sample_stats["tree_depth"])
    if depth.size and np.mean(depth >= max_tree_depth) > 0.01:
        out.append(f"{np.mean(depth >= max_tree_depth):.1%} of trees hit the maximum depth {max_tree_depth}")
    for name, (lo, hi) in (prior_bounds or {}).items():
        x = np.asarray(idata.posterior[name]).ravel()
        width = hi - lo
        for side, edge, frac in (("lower", lo, np.mean(x < lo + 0.02 * width)), ("upper", hi, np.mean(x > hi - 0.02 * width))):
            if frac > 0.05:
                domain = dict(zip(PARAM_NAMES, zip(SUPPORTED_LO, SUPPORTED_HI)))[name][side == "upper"]
                why = (": the edge of the supported domain, beyond which SHAMNet is not used; the data may prefer "
                       "values outside it" if np.isclose(edge, domain) else "")
                out.append(f"{name}: {frac:.0%} of the posterior lies within 2% of the prior's {side} bound {edge:g}"
                           + why)
    return out


def write_summary(rows, run, warnings, path, goodness=None):
    """CSV of the rows, and a JSON of the run-level figures, warnings and (``goodness``,
    from ``chi_square_table``) the chi-square beside it."""
    tmp = atomic_tmp_path(path)
    with open(tmp, "w") as f:
        f.write(",".join(SUMMARY_COLUMNS) + "\n")
        for r in rows:
            f.write(",".join(str(r[c]) if c == "parameter" else f"{r[c]:.6g}" for c in SUMMARY_COLUMNS) + "\n")
    os.replace(tmp, path)
    side = os.path.splitext(path)[0] + ".json"
    tmp = atomic_tmp_path(side)
    with open(tmp, "w") as f:
        json.dump(dict(run=run, warnings=warnings, parameters=rows, chi_square=goodness), f, indent=1, default=float)
    os.replace(tmp, side)


def format_summary(rows, run, warnings):
    """The printed table."""
    lines = [f"{'parameter':>9} {'mean':>9} {'sd':>8} {'16%':>9} {'84%':>9} {'2.5%':>9} {'97.5%':>9} "
             f"{'ess_bulk':>8} {'ess_tail':>8} {'r_hat':>6} {'mcse':>8} {'truth':>8}"]
    for r in rows:
        lines.append(f"{r['parameter']:>9} {r['mean']:9.4f} {r['sd']:8.4f} {r['q16']:9.4f} {r['q84']:9.4f} "
                     f"{r['q2.5']:9.4f} {r['q97.5']:9.4f} {r['ess_bulk']:8.0f} {r['ess_tail']:8.0f} "
                     f"{r['r_hat']:6.3f} {r['mcse_mean']:8.5f} {r['truth']:8.4f}")
    lines.append(f"min ESS bulk {run['min_ess_bulk']:.0f}: {run['ess_per_second']:.2f} per second of sampling "
                 f"({run['sampling_seconds']:.1f} s), {run['ess_per_gradient']:.4f} per gradient "
                 f"({run['n_grad_sampling']} gradients); warmup {run['warmup_seconds']:.1f} s; "
                 f"{run['divergences']} divergences")
    lines += [f"WARNING: {w}" for w in warnings]
    return "\n".join(lines)
