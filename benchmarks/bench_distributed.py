"""The tabulation of a large catalog split over processes (issue 15): 1 process of 2
threads against 2 loopback processes of 1 thread each, on jax.distributed.

The catalog: ``--n`` objects (default 1.2e7) at uniform random positions in a periodic box
whose size gives the number density of the Bolshoi-Planck SHMF above ``--logm-min``
(default 11.5: a 0.83 Gpc/h box), log Mpeak drawn from that SHMF, all hosts. Uniform
points, not the clustered synthetic catalog: making that at 10^7 objects takes longer than
the tabulation, and clustering changes the number of pairs, not how the work splits. The
binning is the default model's (15 rp bins 0.1-30 Mpc/h, pi_max 40, 0.02 dex).

Each configuration runs in fresh processes (``--worker``) with an empty cache. For each
process: wall time by phase (scan: streaming the file for the cache key and the masses;
read: its slab and ghost shell; tables: its pairs; reduce: the all-reduce), its peak
resident memory and the memory at start (JAX and the imports), the halos it held, and the
bytes it put into the all-reduce; and the loopback traffic of the whole run
(``/proc/net/dev``, 'lo', which counts every process on the machine). Then a scaling
model fitted to these figures (see ``scaling_model``).

Usage: python -u benchmarks/bench_distributed.py [--n 1.2e7] [--logm-min 11.5] [--folder /tmp/...]
Last line: one JSON record of the figures.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import print_json_line  # noqa: E402

DLOGM = 0.02
PI_MAX = 40.0


def rp_edges():
    from diffsham.model import DEFAULT_RP_EDGES

    return np.asarray(DEFAULT_RP_EDGES)


def make_catalog(path, n, logm_min, seed=0):
    """Uniform positions, log Mpeak from the model SHMF above logm_min; written to ``path``."""
    from diffsham.catalog import HaloCatalog, write_catalog
    from diffsham.sham.shmf import log_ncum_bpl

    density = 10.0 ** float(log_ncum_bpl(logm_min))
    lbox = float((n / density) ** (1 / 3))
    rng = np.random.default_rng(seed)
    grid = np.linspace(logm_min, 16.0, 4001)
    ncum = 10.0 ** np.asarray(log_ncum_bpl(grid))
    u = rng.uniform(0, 1, n) * ncum[0]
    logm = np.interp(-u, -ncum, grid)  # inverse of the decreasing n(>M)
    ids = np.arange(n, dtype=np.int64)
    zeros = np.zeros(n)
    cat = HaloCatalog(*(rng.uniform(0, lbox, n) for _ in range(3)), zeros, zeros, zeros, logm, ids,
                      np.full(n, -1, np.int64), ids, lbox=lbox, cosmology={"Om0": 0.307}, source="bench uniform")
    write_catalog(path, cat)
    return lbox


def worker(path, cache_dir):
    """One process: initialise jax.distributed (if the DIFFSHAM_* variables say so), tabulate, report."""
    from diffsham.distributed import initialize, tabulate_distributed

    if os.environ.get("DIFFSHAM_NUM_PROCESSES"):
        initialize()
    import jax

    from diffsham.distributed.tabulate import peak_rss_bytes

    jax.numpy.zeros(1).block_until_ready()  # the backend started: its memory counts as the start
    rss_start = peak_rss_bytes()
    _, report = tabulate_distributed(path, rp_edges(), PI_MAX, DLOGM, cache_dir=cache_dir, progress=False)
    print("REPORT " + json.dumps(dict(report._asdict(), rss_start=rss_start)), flush=True)


def loopback_bytes():
    with open("/proc/net/dev") as f:
        for line in f:
            if line.strip().startswith("lo:"):
                fields = line.split(":")[1].split()
                return int(fields[0]) + int(fields[8])  # received + sent
    return 0


def run(n_processes, threads, path, folder):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cache = tempfile.mkdtemp(dir=folder, prefix=f"cache_{n_processes}x{threads}_")
    procs = []
    lo0, t0 = loopback_bytes(), time.perf_counter()
    for rank in range(n_processes):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}")
        if n_processes > 1:
            env.update(DIFFSHAM_COORDINATOR=f"127.0.0.1:{port}", DIFFSHAM_NUM_PROCESSES=str(n_processes),
                       DIFFSHAM_PROCESS_ID=str(rank))
        procs.append(subprocess.Popen([sys.executable, "-u", __file__, "--worker", path, cache], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    reports = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=3600)
            lines = [ln for ln in out.splitlines() if ln.startswith("REPORT ")]
            if p.returncode or not lines:
                raise RuntimeError(f"worker failed ({p.returncode}):\n{out[-3000:]}")
            reports.append(json.loads(lines[-1][7:]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    wall = time.perf_counter() - t0
    return dict(processes=n_processes, threads=threads, wall_s=wall, loopback_bytes=loopback_bytes() - lo0,
                reports=reports)


def scaling_model(one, two, n, lbox):
    """Time and memory per process for N objects on P processes, from the two runs.

    time(N, P) = scan(N) + (pairs(N) + read(N)) (1 + g P / L) / P + reduce(P):
      - scan: every process streams the key's columns (x, y, z, log Mpeak) once: serial
        in N (the key is one sha256 over the whole file, as the one-process cache's);
      - pairs: per pair visited at fixed density, as measured with 2 threads on 1
        process; the slabs' ghost shells (width g) add no pairs (each pair is counted
        once) but are read and sorted: the read term grows by g P / L;
      - reduce: an all-reduce of B bytes (the tables) over P processes, ring traffic
        2 (P - 1) / P B per process at the loopback's measured rate (a cluster's network
        is 1-10x slower; a tree reduce takes log2 P steps).
    memory(N, P) = base + m_obj N (1 + g P / L) / P + tables, with m_obj from the
    one-process run's growth over its start.
    """
    r1 = one["reports"][0]
    t_pairs = r1["seconds"]["tables"] / n  # per object at this density (pairs ~ N at fixed density)
    t_read = r1["seconds"]["read"] / n
    t_scan = r1["seconds"]["scan"] / n
    base = r1["rss_start"]
    m_obj = (r1["peak_rss_bytes"] - base) / n
    b_tables = max(r["bytes_reduced"] for r in two["reports"])
    t_reduce2 = max(r["seconds"]["reduce"] for r in two["reports"])
    rate = max(2 * 0.5 * b_tables / max(t_reduce2, 1e-6), 1.0)  # bytes/s per process, ring model at P = 2
    g = r1["ghost_width"]
    out = {}
    for big in (1e8, 1e9):
        box = lbox * (big / n) ** (1 / 3)
        for p in (1, 2, 8, 64, 512):
            shell = 1 + (g * p / box if p > 1 else 0.0)
            reduce = 2 * (p - 1) / p * b_tables / rate
            compute = (t_pairs + t_read * shell) * big / p
            out[f"N={big:.0e},P={p}"] = dict(
                time_s=t_scan * big + compute + reduce, scan_s=t_scan * big, compute_s=compute, reduce_s=reduce,
                memory_gb=(base + m_obj * big * shell / p) / 1e9)
    # communication dominates once the all-reduce outlasts a process's share of the pairs
    crossover = {f"N={big:.0e}": float(big * t_pairs * rate / (2 * b_tables)) for big in (1e8, 1e9)}
    return dict(t_pairs_per_object=t_pairs, t_read_per_object=t_read, t_scan_per_object=t_scan, base_bytes=base,
                bytes_per_object=m_obj, table_bytes=b_tables, reduce_rate=rate, predictions=out,
                processes_where_reduce_equals_pairs=crossover)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=float, default=1.2e7)
    p.add_argument("--logm-min", type=float, default=11.5)
    p.add_argument("--folder", default=None)
    p.add_argument("--worker", nargs=2, metavar=("CATALOG", "CACHE"))
    args = p.parse_args()
    if args.worker:
        return worker(*args.worker)
    folder = args.folder or tempfile.mkdtemp(prefix="bench_distributed_")
    os.makedirs(folder, exist_ok=True)
    n = int(args.n)
    path = os.path.join(folder, f"uniform_{n}_{args.logm_min}.h5")
    t0 = time.perf_counter()
    if not os.path.isfile(path):
        lbox = make_catalog(path, n, args.logm_min)
        print(f"catalog: {n} objects, {lbox:.1f} Mpc/h box, made in {time.perf_counter() - t0:.0f} s ({path})",
              flush=True)
    from diffsham.catalog import catalog_header

    lbox = catalog_header(path)["lbox"]
    results = {}
    for n_proc, threads in ((1, 2), (2, 1)):
        r = run(n_proc, threads, path, folder)
        results[f"{n_proc}x{threads}"] = r
        for rep in r["reports"]:
            s = rep["seconds"]
            print(f"{n_proc} process(es) x {threads} thread(s), process {rep['process']}: total {s['total']:.1f} s "
                  f"(scan {s['scan']:.1f}, read {s['read']:.1f}, tables {s['tables']:.1f}, reduce "
                  f"{s['reduce']:.2f}); held {rep['n_owned']} own + {rep['n_ghost']} ghost halos; peak RSS "
                  f"{rep['peak_rss_bytes'] / 1e9:.2f} GB (start {rep['rss_start'] / 1e9:.2f}); all-reduce input "
                  f"{rep['bytes_reduced'] / 1e6:.1f} MB", flush=True)
        print(f"  wall {r['wall_s']:.1f} s, loopback traffic {r['loopback_bytes'] / 1e6:.1f} MB", flush=True)
    one, two = results["1x2"], results["2x1"]
    t1 = max(r["seconds"]["total"] for r in one["reports"])
    t2 = max(r["seconds"]["total"] for r in two["reports"])
    grow1 = one["reports"][0]["peak_rss_bytes"] - one["reports"][0]["rss_start"]
    grow2 = max(r["peak_rss_bytes"] - r["rss_start"] for r in two["reports"])
    ghost = max(r["n_ghost"] for r in two["reports"]) / n
    print(f"time 2x1 / 1x2: {t2 / t1:.3f} (goal <= 1.1)")
    print(f"memory growth per process 2x1 / 1x2: {grow2 / grow1:.3f} (goal <= 1/2 + ghost share {ghost:.3f} = "
          f"{0.5 + ghost:.3f})")
    model = scaling_model(one, two, n, lbox)
    for key, v in model["predictions"].items():
        print(f"model {key}: {v['time_s'] / 3600:.2f} h (scan {v['scan_s']:.0f} s, compute {v['compute_s']:.0f} s, "
              f"reduce {v['reduce_s']:.2f} s), {v['memory_gb']:.1f} GB per process")
    for key, v in model["processes_where_reduce_equals_pairs"].items():
        print(f"model {key}: the all-reduce outlasts a process's pairs beyond P ~ {v:.3g}")
    from _common import machine

    print_json_line(dict(bench="distributed", n=n, lbox=lbox, time_ratio=t2 / t1, memory_ratio=grow2 / grow1,
                         ghost_share=ghost, runs=results, model=model, machine=machine()))


if __name__ == "__main__":
    main()
