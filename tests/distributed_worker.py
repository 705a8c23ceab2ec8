"""One process of the loopback runs in test_distributed.py (not collected by pytest).

    python distributed_worker.py CATALOG OUTDIR

with DIFFSHAM_COORDINATOR, DIFFSHAM_NUM_PROCESSES and DIFFSHAM_PROCESS_ID set. It
tabulates the catalog over the processes (twice: the second finds the cache), builds the
exact and tabulated forward models over them, and writes what it got to
OUTDIR/process_<id>.npz for the test to compare with one process.
"""
import json
import sys

import numpy as np

from diffsham.distributed import initialize, make_slab_forward_model, tabulate_distributed

RP_EDGES = np.logspace(-1, 1, 9)
PI_MAX = 12.0
DLOGM = 0.01
SM_BINS = np.array([[9.8, 10.4], [10.4, 11.0]])
SMF_BINS = np.stack([np.linspace(10.0, 11.0, 6), np.linspace(10.2, 11.2, 6)], axis=1)
THETAS = np.array([[-1.9, -1.1, 10.6, 0.3, 0.25], [-1.8, -1.2, 10.5, 0.25, 0.3]])


def main(catalog, outdir):
    rank, size = initialize()
    import jax
    from jax import numpy as jnp

    tab, report = tabulate_distributed(catalog, RP_EDGES, PI_MAX, DLOGM, cache_dir=f"{outdir}/cache", chunk_rows=500,
                                       progress=False)
    _, again = tabulate_distributed(catalog, RP_EDGES, PI_MAX, DLOGM, cache_dir=f"{outdir}/cache", chunk_rows=500,
                                    progress=False)
    out = {f"tab_{k}": v for k, v in tab._asdict().items() if isinstance(v, np.ndarray)}
    kw = dict(rp_edges=RP_EDGES, pi_max=PI_MAX, dlogm=DLOGM, chunk_rows=500, progress=False)
    for path in ("exact", "tabulated"):
        model = make_slab_forward_model(catalog, SMF_BINS, SM_BINS, SM_BINS, path=path, cache_dir=f"{outdir}/cache",
                                        **kw)
        value, jac = model.jacobian(THETAS[0])
        loss = jax.jit(jax.value_and_grad(lambda t: jnp.sum(jnp.log(jnp.abs(model.kernel(t, model.tables)[0])))))
        out[f"{path}_value"], out[f"{path}_jac"] = np.asarray(value), np.asarray(jac)
        out[f"{path}_loss"], out[f"{path}_grad"] = (np.asarray(x) for x in loss(jnp.asarray(THETAS[0])))
        out[f"{path}_batch"] = np.asarray(model.predict(THETAS))
    out["report"] = np.array(json.dumps(dict(report._asdict(), again_cached=again.cached, size=size)))
    np.savez(f"{outdir}/process_{rank}.npz", **out)


if __name__ == "__main__":
    main(*sys.argv[1:])
