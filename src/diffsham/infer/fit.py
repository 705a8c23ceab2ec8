"""A whole fit: spec -> posterior -> sampler -> results on disk (run.nc, summary.csv,
summary.json with the chi-square of the fit, plots), and ``report`` to remake the summary and plots from run.nc."""
import dataclasses
import os

import jax
import numpy as np
from jax import numpy as jnp

from ..cache import atomic_tmp_path
from ..sham.params import PARAM_NAMES
from .goodness import chi_square_table, format_chi_square
from .posterior import build_posterior
from .results import format_summary, run_warnings, summary_table, to_inference_data, write_summary
from .samplers import run_sampler
from .spec import check_devices, read_spec

__all__ = ("fit", "report", "RUN_FILE", "SMHM_LOGMPEAK")

RUN_FILE = "run.nc"
SMHM_LOGMPEAK = np.linspace(11.0, 15.0, 41)
_KEPT_PER_CHAIN = 100


def _thinned_theta(posterior, result):
    draws = next(iter(result.posterior.values())).shape[1]
    keep = np.unique(np.linspace(0, draws - 1, min(draws, _KEPT_PER_CHAIN)).astype(int))
    values = {n: jnp.asarray(v[:, keep]) for n, v in result.posterior.items()}
    return posterior.theta(values)  # (chains, kept, 5)


def fit(spec, *, out, overrides=None, resume=False, progress=True, posterior=None):
    """Run the fit a spec describes.

    Parameters
    ----------
    spec : FitSpec or str
        The spec or its path.
    out : str
        Run folder: checkpoint.npz, run.nc, summary.csv/.json, *.png.
    overrides : dict, optional
        SamplerSpec fields to change (method, chains, warmup, samples, seed, ...).
    resume : bool
    posterior : Posterior, optional
        Reuse one already built from ``spec``.

    Returns
    -------
    idata, rows, run, warnings
        Under ``jax.distributed`` (``diffsham fit --distributed``) every process samples
        (chains split over the processes' devices with ``devices``; on the exact path of a
        catalog file the halos are split over the processes too, and the mesh is
        (chain, halo): devices / processes devices of each process by the processes),
        process 0 writes the run folder,
        and the others return ``(idata, None, None, None)``.
    """
    spec = read_spec(spec) if isinstance(spec, (str, os.PathLike)) else spec
    sampler = spec.sampler
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(sampler)})
        if unknown:
            raise ValueError(f"unknown sampler settings {unknown}")
        sampler = dataclasses.replace(sampler, **overrides)
        check_devices(sampler, "overrides")
    posterior = posterior or build_posterior(spec, progress=progress)
    result = run_sampler(posterior, sampler, out_dir=out, resume=resume, progress=progress)
    theta = _thinned_theta(posterior, result)
    flat = theta.reshape(-1, len(PARAM_NAMES))
    predict = jax.jit(jax.vmap(lambda t: posterior.predict(t)[0]))
    predictions = np.asarray(predict(flat)).reshape(theta.shape[:2] + (-1,))
    smhm = np.asarray(posterior.model.mean_log_sm(flat, SMHM_LOGMPEAK)).reshape(theta.shape[:2] + (-1,))
    idata = to_inference_data(posterior, result, predictions, smhm, SMHM_LOGMPEAK)
    idata.attrs["max_tree_depth"] = sampler.max_tree_depth
    if jax.process_index() != 0:  # under jax.distributed, process 0 writes what all of them hold
        return idata, None, None, None
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, RUN_FILE)
    tmp = atomic_tmp_path(path)
    idata.to_netcdf(tmp)
    os.replace(tmp, path)
    return (idata, *report(out, progress=progress, idata=idata))


def report(run_dir, progress=True, idata=None):
    """Summary table, warnings and plots of a run folder, from its run.nc."""
    import arviz as az

    from .plots import write_plots

    if idata is None:
        path = os.path.join(run_dir, RUN_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such run file (is {run_dir} a finished run?)")
        idata = az.from_netcdf(path)
    rows, run = summary_table(idata)
    spec_priors = _prior_bounds(idata)
    warnings = run_warnings(idata, rows, int(idata.attrs.get("max_tree_depth", 10)), spec_priors)
    goodness = None
    if "constant_data" in idata.groups():
        goodness = chi_square_table(idata)
        warnings += [f"the model does not fit {r['name']}: chi2 {r['chi2']:.1f} for {r['n']} points (p = {r['p']:.1g})"
                     for r in goodness["observables"] + goodness["bins"] if r["p"] < 1e-3]
    write_summary(rows, run, warnings, os.path.join(run_dir, "summary.csv"), goodness=goodness)
    plots = write_plots(idata, run_dir)
    if progress:
        print(format_summary(rows, run, warnings))
        if goodness is not None:
            print("\n".join(format_chi_square(goodness)))
        print(f"wrote {os.path.join(run_dir, RUN_FILE)}, summary.csv/.json and {', '.join(os.path.basename(p) for p in plots)}")
    return rows, run, warnings


def _prior_bounds(idata):
    import tomllib

    from .spec import parse_spec

    spec = parse_spec(tomllib.loads(idata.attrs["spec"]), idata.attrs.get("spec_path", "<spec>"), idata.attrs["spec"])
    return {n: (p.lo, p.hi) for n, p in spec.priors.items() if p.kind != "fixed"}
