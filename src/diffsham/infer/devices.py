"""Chains across devices: a one-axis mesh ("chain") over local devices, and the chains'
transitions split over it with ``shard_map`` (each device runs the trees of its own
chains; a vmapped batch on one device would run every chain's while loop to the
longest tree of all).

On the CPU, several devices in one process come from ``jax_num_cpu_devices`` (or
``XLA_FLAGS=--xla_force_host_platform_device_count=N``), which must be set before JAX
starts its backend: ``diffsham fit --devices N`` does it (``request_cpu_devices``).

Under ``jax.distributed`` (``diffsham fit --distributed``) the mesh spans the devices of
every process, in JAX's global order; each device steps its own chains and the chains'
new states are gathered (``all_gather``) so that every process holds all of them, as the
pooled tuning, the checkpoints and the draws need.

On the exact path of a catalog split over the processes (its model's ``halo_axis``), the
mesh has two axes: ``chain`` along each process's own devices and ``halo`` across the
processes. Each device steps its chains; the model's kernel, called inside, sums its
process's share of the halos over ``halo`` (a nested ``shard_map``, see
``diffsham.distributed.exact``). Every process then holds every chain.
"""
import jax
import numpy as np

__all__ = ("CHAIN_AXIS", "DevicesUnavailable", "chain_mesh", "replicate_on", "request_cpu_devices", "shard_chains",
           "to_host")

CHAIN_AXIS = "chain"


class DevicesUnavailable(RuntimeError):
    """Fewer local devices than a run asks for."""


def request_cpu_devices(n):
    """Ask for ``n`` CPU devices in this process; a no-op once JAX's backend has started
    (then ``chain_mesh`` says whether there are enough)."""
    try:
        jax.config.update("jax_num_cpu_devices", int(n))
    except RuntimeError:  # backends already initialised
        pass


def chain_mesh(n_devices, n_chains, halo_axis=None):
    """A mesh of ``n_devices`` devices along ``CHAIN_AXIS``: this process's, or under
    ``jax.distributed`` those of all processes (the same number from each).

    With ``halo_axis`` (a model whose halos are split over the processes) and several
    processes: a (chain, halo) mesh of shape (n_devices / processes, processes), whose
    column p holds process p's devices.

    Raises
    ------
    DevicesUnavailable
        Fewer local devices than asked for.
    ValueError
        Chains not a multiple of the devices.
    """
    n_devices = int(n_devices)
    n_processes = jax.process_count()
    if n_devices < 1:
        raise ValueError(f"devices must be at least 1, got {n_devices}")
    if n_chains % n_devices:
        raise ValueError(f"{n_chains} chains cannot be split evenly over {n_devices} devices")
    if n_processes > 1:
        if n_devices % n_processes:
            raise ValueError(f"{n_devices} devices cannot be taken evenly from {n_processes} processes")
        per = n_devices // n_processes
        if per > len(jax.local_devices()):
            raise DevicesUnavailable(f"{n_devices} devices asked for over {n_processes} processes, but this process "
                                     f"has {len(jax.local_devices())}")
        columns = [[d for d in jax.devices() if d.process_index == p][:per] for p in range(n_processes)]
        if halo_axis is not None:
            if n_chains % per:
                raise ValueError(f"{n_chains} chains cannot be split evenly over the {per} devices of each process")
            return jax.sharding.Mesh(np.array(columns).T, (CHAIN_AXIS, halo_axis))
        return jax.sharding.Mesh([d for column in columns for d in column], (CHAIN_AXIS,))
    devices = jax.local_devices()
    if n_devices > len(devices):
        raise DevicesUnavailable(
            f"{n_devices} devices asked for, but this process has {len(devices)} ({devices[0].platform}); on the CPU, "
            f"set XLA_FLAGS=--xla_force_host_platform_device_count={n_devices} or jax_num_cpu_devices before JAX "
            "starts (diffsham fit --devices does)")
    return jax.sharding.Mesh(devices[:n_devices], (CHAIN_AXIS,))


def shard_chains(mesh):
    """A ``map_chains`` for ``build_adaptive_kernel``: the transition of each device's chains
    on that device, the tuning replicated.

    BlackJAX's NUTS branches (``lax.cond``) do not pass shard_map's varying-axis check, so
    it is off; every input but the tuning is split along the chain axis, and so is every
    output.
    """
    from jax.sharding import PartitionSpec as P

    across_processes = len({d.process_index for d in mesh.devices.flat}) > 1

    def map_chains(transition):
        if len(mesh.axis_names) == 2:  # (chain, halo): manual over chain only; the kernel maps halo
            return jax.shard_map(transition, mesh=mesh, in_specs=(P(), P(CHAIN_AXIS), P(CHAIN_AXIS)),
                                 out_specs=P(CHAIN_AXIS), axis_names={CHAIN_AXIS}, check_vma=False)
        if not across_processes:
            return jax.shard_map(transition, mesh=mesh, in_specs=(P(), P(CHAIN_AXIS), P(CHAIN_AXIS)),
                                 out_specs=P(CHAIN_AXIS), check_vma=False)

        def gathered(tuning, keys, chains):
            out = transition(tuning, keys, chains)
            return jax.tree_util.tree_map(lambda x: jax.lax.all_gather(x, CHAIN_AXIS, tiled=True), out)

        # every process gets every chain: what leaves the step is replicated, readable anywhere
        return jax.shard_map(gathered, mesh=mesh, in_specs=(P(), P(CHAIN_AXIS), P(CHAIN_AXIS)), out_specs=P(),
                             check_vma=False)

    return map_chains


def replicate_on(mesh):
    """A function putting a pytree of arrays on ``mesh``, replicated (every process holds
    the values), unless an array already lies on it. A jitted program takes arrays of one
    mesh only: the chains' first states come from the model's own (process) mesh."""
    from jax.sharding import NamedSharding, PartitionSpec as P

    replicated = NamedSharding(mesh, P())

    def place(tree):
        def one(x):
            if getattr(getattr(x, "sharding", None), "mesh", None) == mesh:
                return x
            value = to_host(x)
            return jax.make_array_from_process_local_data(replicated, value, value.shape)

        return jax.tree_util.tree_map(one, tree)

    return place


def to_host(x):
    """A NumPy copy of an array, also of one spread over the processes of jax.distributed
    (replicated: this process's copy; sharded: gathered from all)."""

    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        if x.is_fully_replicated:
            return np.asarray(x.addressable_data(0))
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)
