"""Chains across devices: a one-axis mesh ("chain") over local devices, and the chains'
transitions split over it with ``shard_map`` (each device runs the trees of its own
chains; a vmapped batch on one device would run every chain's while loop to the
longest tree of all).

On the CPU, several devices in one process come from ``jax_num_cpu_devices`` (or
``XLA_FLAGS=--xla_force_host_platform_device_count=N``), which must be set before JAX
starts its backend: ``diffsham fit --devices N`` does it (``request_cpu_devices``).
"""
import jax

__all__ = ("CHAIN_AXIS", "DevicesUnavailable", "chain_mesh", "request_cpu_devices", "shard_chains")

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


def chain_mesh(n_devices, n_chains):
    """A mesh of ``n_devices`` local devices along ``CHAIN_AXIS``.

    Raises
    ------
    DevicesUnavailable
        Fewer local devices than asked for.
    ValueError
        Chains not a multiple of the devices.
    """
    n_devices = int(n_devices)
    devices = jax.local_devices()
    if n_devices < 1:
        raise ValueError(f"devices must be at least 1, got {n_devices}")
    if n_chains % n_devices:
        raise ValueError(f"{n_chains} chains cannot be split evenly over {n_devices} devices")
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

    def map_chains(transition):
        return jax.shard_map(transition, mesh=mesh, in_specs=(P(), P(CHAIN_AXIS), P(CHAIN_AXIS)),
                             out_specs=P(CHAIN_AXIS), check_vma=False)

    return map_chains
