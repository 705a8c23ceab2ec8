"""Inference: specs and their errors, recovery of the truth by BlackJAX NUTS and NumPyro
NUTS on a small mock, a run killed in warmup resumed bit for bit, a NumPyro run continued
from its checkpoint, chains started from the prior over the whole supported domain,
stall detection. Small settings throughout: a 100 Mpc/h
box and SHAMNet alone (the refined model's gradients are tested in test_convergence)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from diffsham.infer import SamplerStalled, SpecError, build_model, build_posterior, fit, make_mock, read_spec
from diffsham.infer.samplers import run_sampler

SPEC = """
[catalog]
kind = "synthetic"
lbox = 100.0
logmpeak_min = 11.5
seed = 3
n_grid = 32

[model]
smhm = "shamnet_alone"  # the sampler layer is under test: 4x cheaper gradients than refined
rp_edges = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 20.0]
pi_max = 20.0

[[observables]]
kind = "smf"
sm_bins = [[10.3, 10.4], [10.4, 10.5], [10.5, 10.6], [10.6, 10.7], [10.7, 10.8], [10.8, 10.9], [10.9, 11.0],
           [11.0, 11.1], [11.1, 11.2], [11.2, 11.3], [11.3, 11.4], [11.4, 11.5]]
data = "mock/smf.txt"

[[observables]]
kind = "wp"
sm_bins = [[10.3, 10.7], [10.7, 11.1], [11.1, 11.5]]
data = "mock/wp.txt"

[[observables]]
kind = "delta_sigma"
sm_bins = [[10.3, 10.8]]
data = "mock/delta_sigma.txt"
r_max = 10.0

[likelihood]
covariance = "mock/covariance.txt"
max_incompleteness = 1.0  # a mock of this catalog: data and model miss the same galaxies

[truth]
logphi = -1.835
alpha = -1.15
logmc = 10.54
s_lo = 0.3
s_hi = 0.25

[sampler]
chains = 4
warmup = 300
samples = 500
seed = 1
checkpoint_every = 50
"""


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spec")
    (folder / "spec.toml").write_text(SPEC)
    spec = read_spec(folder / "spec.toml")
    model = build_model(spec, progress=False)
    make_mock(model, spec.truth, str(folder / "mock"), r_range={o.kind: (o.r_min, o.r_max) for o in spec.observables})
    # errors halved (covariance x 1/4): an informative mock whose posterior is nearly
    # Gaussian and away from the prior bounds, so that short chains reach R-hat <= 1.01
    cov = np.loadtxt(folder / "mock" / "covariance.txt")
    np.savetxt(folder / "mock" / "covariance.txt", 0.25 * cov)
    return folder


@pytest.fixture(scope="module")
def posterior(spec_dir):
    return build_posterior(read_spec(spec_dir / "spec.toml"), progress=False)


def _write(folder, text, name="bad.toml"):
    path = folder / name
    path.write_text(text)
    return path


def test_spec_errors_name_file_key_and_problem(spec_dir, posterior):
    with pytest.raises(SpecError, match=r"bad.toml: \[model\]: unknown keys \['pimax'\]"):
        read_spec(_write(spec_dir, SPEC.replace("pi_max = 20.0", "pimax = 20.0")))
    with pytest.raises(SpecError, match="unknown keys.*sampler"):
        read_spec(_write(spec_dir, SPEC.replace("seed = 1", "sed = 1")))
    with pytest.raises(SpecError, match=r"priors.s_lo\] bounds \[0.1, 0.3\] reach outside the supported domain"):
        read_spec(_write(spec_dir, SPEC + "\n[priors.s_lo]\nkind = 'uniform'\nlo = 0.1\nhi = 0.3\n"))
    with pytest.raises(SpecError, match=r"priors.s_hi\] value 0.45 lies outside"):
        read_spec(_write(spec_dir, SPEC + "\n[priors.s_hi]\nkind = 'fixed'\nvalue = 0.45\n"))
    with pytest.raises(SpecError, match=r"box_covariance must be 'none' or 'jackknife', got 'bootstrap'"):
        read_spec(_write(spec_dir, SPEC.replace("[likelihood]", '[likelihood]\nbox_covariance = "bootstrap"')))
    with pytest.raises(SpecError, match=r"jackknife_n_side must be an integer in \[2, 8\], got 1"):
        read_spec(_write(spec_dir, SPEC.replace("[likelihood]", "[likelihood]\njackknife_n_side = 1")))
    with pytest.raises(SpecError, match=r"\[catalog\] recipe must be one of \('linear', 'nbody'\), not 'nbodyy'"):
        read_spec(_write(spec_dir, SPEC.replace("[catalog]", '[catalog]\nrecipe = "nbodyy"')))
    with pytest.raises(SpecError, match=r"\[catalog\] cell_size must be a positive length"):
        read_spec(_write(spec_dir, SPEC.replace("[catalog]", '[catalog]\nrecipe = "nbody"\ncell_size = "1.0"')))
    with pytest.raises(SpecError, match=r"\[catalog\] cell_size 50.0 gives 2 cells per side"):
        read_spec(_write(spec_dir, SPEC.replace("[catalog]", '[catalog]\nrecipe = "nbody"\ncell_size = 50.0')))
    with pytest.raises(SpecError, match="no such spec file"):
        read_spec(spec_dir / "absent.toml")
    missing = read_spec(_write(spec_dir, SPEC.replace("mock/wp.txt", "mock/absent.txt")))
    with pytest.raises(SpecError, match="data file .*absent.txt not found"):
        build_posterior(missing, progress=False)
    cov = np.loadtxt(spec_dir / "mock" / "covariance.txt")
    bad = cov.copy()
    bad[0, 0] = -1.0
    np.savetxt(spec_dir / "mock" / "bad_cov.txt", bad)
    with pytest.raises(SpecError, match="not positive definite \\(smallest eigenvalue"):
        build_posterior(read_spec(_write(spec_dir, SPEC.replace("mock/covariance.txt", "mock/bad_cov.txt"))),
                        progress=False)
    np.savetxt(spec_dir / "mock" / "small_cov.txt", cov[:-1, :-1])
    with pytest.raises(SpecError, match="covariance has shape .* the data vector has"):
        build_posterior(read_spec(_write(spec_dir, SPEC.replace("mock/covariance.txt", "mock/small_cov.txt"))),
                        progress=False)
    asym = cov.copy()
    asym[0, 1] *= 1.5
    np.savetxt(spec_dir / "mock" / "asym_cov.txt", asym)
    with pytest.raises(SpecError, match="not symmetric"):
        build_posterior(read_spec(_write(spec_dir, SPEC.replace("mock/covariance.txt", "mock/asym_cov.txt"))),
                        progress=False)
    wp = np.loadtxt(spec_dir / "mock" / "wp.txt")
    wp[0, 2] *= 1.3
    np.savetxt(spec_dir / "mock" / "wp_bad_r.txt", wp)
    with pytest.raises(SpecError, match="r = .* is not a bin centre"):
        build_posterior(read_spec(_write(spec_dir, SPEC.replace("mock/wp.txt", "mock/wp_bad_r.txt"))), progress=False)
    # a scale cut and a fixed parameter are honoured
    cut = build_posterior(read_spec(_write(spec_dir, SPEC.replace('data = "mock/wp.txt"', 'data = "mock/wp.txt"\nr_min = 0.5')
                                           + "\n[priors.logmc]\nkind = 'fixed'\nvalue = 10.54\n")), progress=False)
    assert cut.free == ("logphi", "alpha", "s_lo", "s_hi") and cut.data.values.size == posterior.data.values.size - 6


@pytest.fixture(scope="module")
def fits(spec_dir, posterior, tmp_path_factory):
    spec = read_spec(spec_dir / "spec.toml")
    out = {}
    for method in ("nuts", "numpyro-nuts"):
        run = tmp_path_factory.mktemp(method)
        out[method] = fit(spec, out=str(run), overrides=dict(method=method), progress=False, posterior=posterior)
    return out


@pytest.mark.slow
def test_recovery_blackjax_and_numpyro_nuts(fits, posterior):
    """Every truth inside its central 95% interval, R-hat <= 1.01 and no divergences for
    both samplers; their posterior means agree within four combined Monte Carlo errors."""
    truth = posterior.spec.truth
    rows = {}
    for method, (idata, table, run, _) in fits.items():
        assert run["divergences"] == 0, (method, run["divergences"])
        for r in table:
            assert r["q2.5"] < truth[r["parameter"]] < r["q97.5"], (method, r)
            assert r["r_hat"] <= 1.01, (method, r)
        rows[method] = {r["parameter"]: r for r in table}
        assert {"posterior", "sample_stats", "observed_data", "posterior_predictive", "constant_data"} <= set(
            idata.groups())
    for name in posterior.free:
        a, b = rows["nuts"][name], rows["numpyro-nuts"][name]
        assert abs(a["mean"] - b["mean"]) < 4 * np.hypot(a["mcse_mean"], b["mcse_mean"]), (name, a, b)


def test_run_folder_holds_results_and_report_remakes_them(fits, tmp_path):
    idata = fits["nuts"][0]
    import arviz as az

    # the netCDF round trip keeps the draws and the attributes a report needs
    path = tmp_path / "run.nc"
    idata.to_netcdf(path)
    back = az.from_netcdf(path)
    np.testing.assert_array_equal(np.asarray(back.posterior["alpha"]), np.asarray(idata.posterior["alpha"]))
    assert json.loads(back.attrs["free"]) == ["logphi", "alpha", "logmc", "s_lo", "s_hi"]
    from diffsham.infer import report

    rows, run, _ = report(str(tmp_path), progress=False, idata=back)
    assert {"trace.png", "corner.png", "ppc.png", "smhm.png", "summary.csv", "summary.json"} <= set(os.listdir(tmp_path))
    assert run["n_grad_sampling"] > 0 and len(rows) == 5
    # the mock is the model at the truth: the best stored draw fits it (chi2/dof well below 1)
    chi2 = json.loads((tmp_path / "summary.json").read_text())["chi_square"]
    assert chi2["total"]["dof"] == chi2["total"]["n"] - 5 and chi2["total"]["chi2_per_dof"] < 1.0


def _fit_cmd(spec, out, *extra):
    return [sys.executable, "-m", "diffsham", "fit", str(spec), "--out", str(out), "--chains", "2", "--warmup", "100",
            "--samples", "20", "--checkpoint-every", "10", "--quiet", *extra]


@pytest.fixture(scope="module")
def whole_run(spec_dir, tmp_path_factory):
    """An uninterrupted short run through the CLI, on one device."""
    whole = tmp_path_factory.mktemp("whole")
    run = subprocess.run(_fit_cmd(spec_dir / "spec.toml", whole), capture_output=True, text=True, timeout=900,
                         env={k: v for k, v in os.environ.items() if k != "XLA_FLAGS"})
    assert run.returncode == 0, run.stderr[-2000:]
    return whole


def _same_draws(a_dir, b_dir, rtol=0.0):
    import arviz as az

    a, b = az.from_netcdf(a_dir / "run.nc"), az.from_netcdf(b_dir / "run.nc")
    for name in ("logphi", "alpha", "logmc", "s_lo", "s_hi", "lp"):
        group = a.sample_stats if name == "lp" else a.posterior
        other = b.sample_stats if name == "lp" else b.posterior
        np.testing.assert_allclose(np.asarray(other[name]), np.asarray(group[name]), rtol=rtol, atol=0, err_msg=name)


@pytest.mark.slow
def test_sharded_fit_equals_unsharded(spec_dir, whole_run, tmp_path):
    """``--devices 2``: the two chains on two virtual CPU devices draw what one device draws,
    to rounding (a batch of one chain per device sums in another order: lp differs by 2e-13
    relative)."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    sharded = tmp_path / "sharded"
    run = subprocess.run(_fit_cmd(spec_dir / "spec.toml", sharded, "--devices", "2"), capture_output=True, text=True,
                         timeout=900, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    _same_draws(whole_run, sharded, rtol=1e-11)
    with pytest.raises(SpecError, match="3 chains cannot be split evenly over 2 devices"):
        fit(spec_dir / "spec.toml", out=str(tmp_path / "x"), overrides=dict(devices=2, chains=3), progress=False)


@pytest.mark.slow
def test_killed_run_resumes_bit_for_bit(spec_dir, whole_run, tmp_path):
    """SIGKILL during warmup (the adaptation state is in the checkpoint too), --resume, and
    the draws equal an uninterrupted run's bit for bit."""
    env = dict(os.environ)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_fit_cmd(spec_dir / "spec.toml", killed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    ckpt = killed / "checkpoint.npz"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists():
            with np.load(ckpt) as f:
                if int(f["done"]) >= 10:
                    break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with np.load(ckpt) as f:
        assert str(f["phase"]) == "warmup" and 10 <= int(f["done"]) < 100, "the run was not killed mid-warmup"
    assert not (killed / "run.nc").exists()
    run = subprocess.run(_fit_cmd(spec_dir / "spec.toml", killed, "--resume"), capture_output=True, text=True,
                         timeout=900, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    _same_draws(whole_run, killed)


def test_numpyro_run_continues_from_its_checkpoint(posterior, tmp_path):
    """NumPyro NUTS runs in checkpointed chunks too: a run stopped after 20 draws and
    resumed to 40 equals a run of 40 bit for bit."""
    import dataclasses

    sampler = dataclasses.replace(posterior.spec.sampler, method="numpyro-nuts", chains=2, warmup=30, samples=40,
                                  checkpoint_every=10, seed=5)
    whole = run_sampler(posterior, sampler, out_dir=str(tmp_path / "whole"), progress=False)
    run_sampler(posterior, dataclasses.replace(sampler, samples=20), out_dir=str(tmp_path / "cut"), progress=False)
    with np.load(tmp_path / "cut" / "checkpoint.npz") as f:
        assert str(f["phase"]) == "sampling" and int(f["done"]) == 20
    resumed = run_sampler(posterior, sampler, out_dir=str(tmp_path / "cut"), resume=True, progress=False)
    for name in posterior.free:
        np.testing.assert_array_equal(whole.posterior[name], resumed.posterior[name])
    np.testing.assert_array_equal(whole.sample_stats["lp"], resumed.sample_stats["lp"])
    assert resumed.n_grad_sampling == whole.n_grad_sampling


def test_nuts_from_the_prior_over_the_whole_domain_finishes(posterior):
    """Issue 16: 4 chains started from prior draws over the whole supported domain (not
    at the MAP): warmup and sampling finish, no step size collapses."""
    import dataclasses

    sampler = dataclasses.replace(posterior.spec.sampler, init="prior", warmup=40, samples=10, seed=7, max_tree_depth=8)
    result = run_sampler(posterior, sampler, progress=False)
    step = result.sample_stats["step_size"][:, 0]
    assert np.all(step > 1e-3), step
    assert np.all(np.isfinite(result.sample_stats["lp"]))


def test_stall_detection_names_the_chain(posterior):
    import dataclasses

    sampler = dataclasses.replace(posterior.spec.sampler, warmup=10, samples=10, step_size_floor=10.0)
    with pytest.raises(SamplerStalled, match=r"chain \d: adapted step size .* below the floor 10; it sat at logphi="):
        run_sampler(posterior, sampler, progress=False)


@pytest.mark.slow
def test_fit_over_two_processes_equals_one(spec_dir, whole_run, tmp_path):
    """``diffsham fit --distributed --devices 2`` in two loopback processes of
    jax.distributed: one chain on each process's device, the new states gathered to both
    after every step; process 0 writes the run, whose draws equal the one-process run's
    to rounding."""
    sys.path.insert(0, os.path.dirname(__file__))
    from loopback import run_processes

    out = tmp_path / "two"
    results = run_processes(2, _fit_cmd(spec_dir / "spec.toml", out, "--distributed", "--devices", "2")[1:],
                            timeout_s=900)
    for rank, (code, text) in enumerate(results):
        assert code == 0, f"process {rank}:\n{text[-3000:]}"
    _same_draws(whole_run, out, rtol=1e-11)
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".nc", ".npz")) == ["checkpoint.npz", "run.nc"]


@pytest.mark.slow
def test_exact_fit_on_a_chain_halo_mesh_equals_one_process(spec_dir, tmp_path):
    """The exact path of a catalog file over two loopback processes with ``--devices 2``:
    the halos split over the processes, a (chain, halo) mesh of 1 x 2 whose chain
    shard_map holds the kernel's halo shard_map; the draws equal one process's exact fit."""
    import re

    from diffsham.catalog import (DEFAULT_DS_RP_EDGES, SyntheticConfig, analytic_delta_sigma, make_synthetic_catalog,
                                  write_catalog)

    sys.path.insert(0, os.path.dirname(__file__))
    from loopback import run_processes

    # a smaller box than the spec's: the mock's data vector still fits it, and only the
    # equality of the two runs is under test
    box = make_synthetic_catalog(SyntheticConfig(lbox=60.0, logmpeak_min=11.5, seed=3, n_grid=32), progress=False)
    box = box.with_delta_sigma(analytic_delta_sigma(box, progress=False), DEFAULT_DS_RP_EDGES, "analytic")
    write_catalog(spec_dir / "exact_box.h5", box)
    text = re.sub(r"(?s)\[catalog\].*?\n\n", '[catalog]\nkind = "file"\npath = "exact_box.h5"\n\n', SPEC)
    (spec_dir / "exact.toml").write_text(text.replace("[model]\n", '[model]\npath = "exact"\n'))
    short = ("--warmup", "10", "--samples", "4", "--init", "prior")
    one = tmp_path / "one"
    run = subprocess.run(_fit_cmd(spec_dir / "exact.toml", one, *short), capture_output=True, text=True, timeout=900,
                         env={k: v for k, v in os.environ.items() if k != "XLA_FLAGS"})
    assert run.returncode == 0, run.stderr[-2000:]
    two = tmp_path / "two"
    results = run_processes(2, _fit_cmd(spec_dir / "exact.toml", two, "--distributed", "--devices", "2", *short)[1:],
                            timeout_s=900)
    for rank, (code, text) in enumerate(results):
        assert code == 0, f"process {rank}:\n{text[-3000:]}"
    _same_draws(one, two, rtol=1e-9)


def test_catalog_file_spec_reads_its_file(spec_dir, tmp_path):
    """``[catalog] kind = "file"`` takes a path relative to the spec (the key was refused
    as unknown until session 11) and reads that file; a missing file is named."""
    import re

    from diffsham.catalog import CatalogError, write_catalog
    from diffsham.infer.posterior import load_spec_catalog

    cat = load_spec_catalog(read_spec(spec_dir / "spec.toml"), progress=False)
    write_catalog(tmp_path / "box.h5", cat)
    text = re.sub(r"(?s)\[catalog\].*?\n\n", '[catalog]\nkind = "file"\npath = "box.h5"\n\n', SPEC)
    (tmp_path / "spec.toml").write_text(text)
    spec = read_spec(tmp_path / "spec.toml")
    assert spec.catalog.kind == "file" and spec.resolve(spec.catalog.path) == str(tmp_path / "box.h5")
    np.testing.assert_array_equal(load_spec_catalog(spec).x, cat.x)
    (tmp_path / "box.h5").unlink()
    with pytest.raises(CatalogError, match="box.h5: no such file"):
        load_spec_catalog(spec)
