"""The box split over processes (diffsham.distributed).

In one process: slabs partition the halos and the pairs (the slabs' tables and pair
sums add up to the whole box's). Over two loopback processes of jax.distributed: the
tabulation, and the exact path's value, Jacobian and reverse-mode gradient through the
in-graph psum, equal one process's; each process held only its slab and ghost shell;
process 0 alone wrote the cache, which the next call found.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from diffsham.distributed import SlabDecomposition
from diffsham.stats.cells import sort_into_columns, sort_slab_into_columns
from diffsham.stats.pair_counts import weighted_pair_counts
from diffsham.stats.tabulate import MassBins, pair_tables

sys.path.insert(0, os.path.dirname(__file__))
import distributed_worker as worker  # noqa: E402
from loopback import run_processes  # noqa: E402

WORKER_TIMEOUT_S = 300


def test_slabs_partition_halos_and_pairs():
    rng = np.random.default_rng(4)
    lbox, n = 60.0, 3000
    pos = rng.uniform(0, lbox, (n, 3))
    logm = rng.uniform(11, 13, n)
    edges, pi_max = np.logspace(-1, np.log10(8.0), 7), 10.0
    bins = MassBins.covering(logm.min(), logm.max(), 0.1)
    mbin, dm = bins.assign(logm)
    whole = pair_tables(pos, mbin, dm, bins.n_m, lbox, edges, pi_max)
    w = rng.uniform(0, 1, (n, 2))
    dd_whole = np.asarray(weighted_pair_counts(w, sort_into_columns(pos, lbox, edges[-1], 2), edges, pi_max))
    for n_parts in (2, 3):
        dec = SlabDecomposition.for_binning(lbox, edges[-1], n_parts)
        assert dec.ghost_width >= edges[-1]
        owned = np.zeros(n, int)
        summed = [np.zeros_like(t) for t in whole]
        dd = np.zeros_like(dd_whole)
        for part in range(n_parts):
            mine, ghost = dec.select(pos[:, 0], part)
            owned += mine
            held = mine | ghost
            assert held.sum() < n  # no slab holds the whole box
            for total, t in zip(summed, pair_tables(pos[held], mbin[held], dm[held], bins.n_m, lbox, edges, pi_max,
                                                    slab=dec.columns(part))):
                total += t
            cells = sort_slab_into_columns(pos[held], lbox, edges[-1], 2, dec.columns(part))
            dd += np.asarray(weighted_pair_counts(w[held], cells, edges, pi_max))
        np.testing.assert_array_equal(owned, 1)
        np.testing.assert_array_equal(summed[0], whole[0])  # integer pair counts, exactly
        for a, b in zip(summed[1:], whole[1:]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(dd, dd_whole, rtol=1e-12)


def test_slab_settings_are_checked():
    with pytest.raises(ValueError, match="too few to split"):
        SlabDecomposition.for_binning(40.0, 15.0, 2, subdivide=1)
    with pytest.raises(ValueError, match="9 slabs asked for; the box has 8 columns"):
        SlabDecomposition.for_binning(40.0, 10.0, 9)


@pytest.fixture(scope="module")
def two_process_run(small_catalog, tmp_path_factory):
    from diffsham.catalog import write_catalog

    folder = tmp_path_factory.mktemp("distributed")
    path = str(folder / "catalog.h5")
    write_catalog(path, small_catalog)
    results = run_processes(2, [worker.__file__, path, str(folder)], timeout_s=WORKER_TIMEOUT_S)
    for rank, (code, output) in enumerate(results):
        assert code == 0, f"process {rank} failed:\n{output[-4000:]}"
    return [dict(np.load(folder / f"process_{rank}.npz")) for rank in range(2)], folder


def test_two_processes_tabulate_what_one_does(two_process_run, small_catalog):
    from diffsham.catalog import read_catalog
    from diffsham.stats.tabulate import tabulate

    runs, folder = two_process_run
    cat = read_catalog(folder / "catalog.h5")
    ref = tabulate(cat, worker.RP_EDGES, worker.PI_MAX, worker.DLOGM, progress=False)
    for run in runs:
        np.testing.assert_array_equal(run["tab_p0"], ref.p0)
        np.testing.assert_array_equal(run["tab_n"], ref.n)
        for name in ("p1", "p11", "s1", "s2", "ds0", "ds1", "host_ds0", "host_ds1"):
            np.testing.assert_allclose(run[f"tab_{name}"], getattr(ref, name), rtol=1e-12, atol=1e-14 *
                                       np.max(np.abs(getattr(ref, name))))
    reports = [json.loads(str(run["report"])) for run in runs]
    assert sum(r["n_owned"] for r in reports) == cat.n_halos
    for r in reports:
        assert r["size"] == 2 and not r["cached"] and r["again_cached"]
        assert r["n_owned"] + r["n_ghost"] < cat.n_halos  # no process held the whole catalog
    caches = [f for f in os.listdir(folder / "cache") if f.startswith("tabulation_")]
    assert caches == [f"tabulation_{ref.key}.h5"]


@pytest.mark.parametrize("path", ["exact", "tabulated"])
def test_two_processes_predict_and_differentiate_what_one_does(two_process_run, path):
    import jax
    from jax import numpy as jnp

    from diffsham.catalog import read_catalog
    from diffsham.model import make_forward_model

    runs, folder = two_process_run
    cat = read_catalog(folder / "catalog.h5")
    model = make_forward_model(cat, worker.SMF_BINS, worker.SM_BINS, worker.SM_BINS, path=path,
                               rp_edges=worker.RP_EDGES, pi_max=worker.PI_MAX, dlogm=worker.DLOGM,
                               cache_dir=str(folder / "cache_one"), progress=False)
    value, jac = model.jacobian(worker.THETAS[0])
    loss, grad = jax.value_and_grad(lambda t: jnp.sum(jnp.log(jnp.abs(model.kernel(t, model.tables)[0]))))(
        jnp.asarray(worker.THETAS[0]))
    batch = model.predict(worker.THETAS)
    assert np.all(np.isfinite(np.asarray(jac))) and np.max(np.abs(np.asarray(grad))) > 1.0  # not a trivial case
    for run in runs:
        np.testing.assert_allclose(run[f"{path}_value"], value, rtol=1e-11)
        np.testing.assert_allclose(run[f"{path}_jac"], jac, rtol=1e-9, atol=1e-9 * np.max(np.abs(jac)))
        np.testing.assert_allclose(run[f"{path}_loss"], loss, rtol=1e-12)
        np.testing.assert_allclose(run[f"{path}_grad"], grad, rtol=1e-9)
        np.testing.assert_allclose(run[f"{path}_batch"], batch, rtol=1e-11)


def test_initialize_says_what_is_missing():
    """Settings given in part, or none and no cluster: an error naming what to set (in a
    subprocess: a started jax.distributed would outlive the test)."""
    code = ("from diffsham.distributed import initialize, DistributedSetupError\n"
            "try:\n    initialize()\nexcept DistributedSetupError as e:\n    print(e)\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DIFFSHAM_", "SLURM_", "OMPI_", "PMI_"))}
    for extra, message in (({}, "no cluster found to start jax.distributed from"),
                           ({"DIFFSHAM_NUM_PROCESSES": "2"}, "DIFFSHAM_COORDINATOR, DIFFSHAM_PROCESS_ID not given"),
                           ({"DIFFSHAM_COORDINATOR": "127.0.0.1:1", "DIFFSHAM_NUM_PROCESSES": "2",
                             "DIFFSHAM_PROCESS_ID": "2"}, "process id 2 is not in \\[0, 2\\)")):
        run = subprocess.run([sys.executable, "-c", code], env=dict(clean, **extra), capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        assert re.search(message, run.stdout), run.stdout


def test_tabulate_command_over_two_processes(two_process_run):
    """``diffsham catalog tabulate --distributed`` in two loopback processes writes the
    tabulation one process makes into the cache (process 0 alone), and says so."""
    from diffsham.catalog import read_catalog
    from diffsham.stats.tabulate import read_tabulation, tabulate

    _, folder = two_process_run
    path = str(folder / "catalog.h5")
    cache = folder / "cache_cli"
    argv = ["-m", "diffsham", "catalog", "tabulate", path, "--distributed", "--rp-edges",
            *map(str, worker.RP_EDGES), "--pi-max", str(worker.PI_MAX), "--dlogm", str(worker.DLOGM),
            "--cache-dir", str(cache), "--chunk-rows", "700"]
    results = run_processes(2, argv, timeout_s=WORKER_TIMEOUT_S)
    reports = []
    for rank, (code, output) in enumerate(results):
        assert code == 0, f"process {rank}:\n{output[-3000:]}"
        reports.append(json.loads([ln for ln in output.splitlines() if ln.startswith("{")][-1]))
    assert sorted(r["process"] for r in reports) == [0, 1] and all(not r["cached"] for r in reports)
    ref = tabulate(read_catalog(path), worker.RP_EDGES, worker.PI_MAX, worker.DLOGM, progress=False)
    written = read_tabulation(cache / f"tabulation_{ref.key}.h5")
    np.testing.assert_array_equal(written.p0, ref.p0)
    np.testing.assert_allclose(written.p11, ref.p11, rtol=1e-12, atol=1e-14 * np.abs(ref.p11).max())
    assert os.listdir(cache) == [f"tabulation_{ref.key}.h5"]
