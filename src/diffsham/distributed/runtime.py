"""The process group: ``jax.distributed`` started once, a mesh with one device per
process, and sums of NumPy arrays over the processes (an all-reduce, in the graph)."""
import os

import jax
import numpy as np

from ..precision import enable_float64

__all__ = ("initialize", "DistributedSetupError", "HALO_AXIS", "process_mesh", "process_sum", "ENV_VARIABLES")

HALO_AXIS = "halo"
# explicit settings, for launchers JAX does not detect (and for tests on the loopback)
ENV_VARIABLES = ("DIFFSHAM_COORDINATOR", "DIFFSHAM_NUM_PROCESSES", "DIFFSHAM_PROCESS_ID")


class DistributedSetupError(RuntimeError):
    """jax.distributed could not be started from what was given."""


def initialize(coordinator_address=None, num_processes=None, process_id=None, *, timeout_s=300):
    """Start ``jax.distributed`` in this process (a no-op when it already runs).

    Arguments win, then ``DIFFSHAM_COORDINATOR`` (host:port of process 0),
    ``DIFFSHAM_NUM_PROCESSES`` and ``DIFFSHAM_PROCESS_ID``; with none of them, JAX's
    own cluster auto-detection (SLURM's ``srun``, Open MPI's ``mpirun``, ...) fills in
    all three. Call it before anything else uses JAX.

    Returns
    -------
    (process_id, num_processes) : (int, int)

    Raises
    ------
    DistributedSetupError
        Settings given in part, or nothing to start from.
    """
    env = [os.environ.get(name) for name in ENV_VARIABLES]
    given = [coordinator_address, num_processes, process_id]
    settings = [g if g is not None else e for g, e in zip(given, env)]
    if _running():
        return jax.process_index(), jax.process_count()
    if any(s is not None for s in settings):
        missing = [name for name, s in zip(ENV_VARIABLES, settings) if s is None]
        if missing:
            raise DistributedSetupError(f"jax.distributed needs all of {', '.join(ENV_VARIABLES)} (or the matching "
                                        f"arguments); {', '.join(missing)} not given")
        try:
            n, rank = int(settings[1]), int(settings[2])
        except ValueError as exc:
            raise DistributedSetupError(f"number of processes and process id must be integers, got "
                                        f"{settings[1]!r} and {settings[2]!r}") from exc
        if not (n >= 1 and 0 <= rank < n):
            raise DistributedSetupError(f"process id {rank} is not in [0, {n})")
        jax.distributed.initialize(coordinator_address=str(settings[0]), num_processes=n, process_id=rank,
                                   initialization_timeout=int(timeout_s))
    else:
        try:
            jax.distributed.initialize(initialization_timeout=int(timeout_s))
        except (ValueError, RuntimeError) as exc:
            raise DistributedSetupError(
                "no cluster found to start jax.distributed from: launch with srun or mpirun, or set "
                f"{', '.join(ENV_VARIABLES)} ({exc})") from exc
    return jax.process_index(), jax.process_count()


def _running():
    from jax._src import distributed

    return distributed.global_state.client is not None


def process_mesh():
    """A mesh along ``HALO_AXIS`` of one device per process (each process's first)."""
    first = {}
    for d in jax.devices():
        first.setdefault(d.process_index, d)
    return jax.sharding.Mesh(np.array([first[p] for p in sorted(first)]), (HALO_AXIS,))


def process_sum(arrays):
    """Sum NumPy arrays over the processes; every process gets the sums.

    Parameters
    ----------
    arrays : dict of ndarray or None
        The same keys, shapes and None entries on every process.

    Returns
    -------
    sums : dict of ndarray (float64) or None
    """
    names = [k for k, v in arrays.items() if v is not None]
    if jax.process_count() == 1:
        return {k: None if v is None else np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    enable_float64()
    from jax.sharding import NamedSharding, PartitionSpec as P

    mesh = process_mesh()
    sharding = NamedSharding(mesh, P(HALO_AXIS))
    n = jax.process_count()
    stacked = [jax.make_array_from_process_local_data(sharding, np.asarray(arrays[k], np.float64)[None],
                                                      (n,) + np.shape(arrays[k])) for k in names]
    summed = _summed(mesh, len(names))(*stacked)
    out = dict.fromkeys(arrays)
    out.update({k: np.asarray(s.addressable_data(0)) for k, s in zip(names, summed)})
    return out


def _summed(mesh, n_arrays):
    from jax.sharding import PartitionSpec as P

    def local(*parts):
        return tuple(jax.lax.psum(p[0], HALO_AXIS) for p in parts)

    return jax.jit(jax.shard_map(local, mesh=mesh, in_specs=(P(HALO_AXIS),) * n_arrays, out_specs=(P(),) * n_arrays))
