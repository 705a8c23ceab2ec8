"""Outgrowing one machine: the box split into slabs over processes on ``jax.distributed``.

Every process reads only its slab of the catalog and a ghost shell beside it, tabulates
or sums its share of the pairs, and the shares are summed by a collective (``psum``) on
JAX's own engine: no master and no workers, every process runs the same program.

- ``initialize``: ``jax.distributed`` from arguments, the ``DIFFSHAM_*`` variables or
  JAX's cluster auto-detection (SLURM, Open MPI, ...).
- ``SlabDecomposition``: which x-columns of the pair enumeration a process owns.
- ``tabulate_distributed``: the fast path's tabulation of a catalog file.
- ``make_slab_forward_model``: the exact path, value and gradient reduced in the graph.
"""
from .exact import make_slab_forward_model
from .runtime import HALO_AXIS, DistributedSetupError, initialize, process_mesh, process_sum
from .slabs import SlabDecomposition, read_slab
from .tabulate import TabulationReport, stream_catalog_summary, tabulate_distributed

__all__ = ("initialize", "DistributedSetupError", "HALO_AXIS", "process_mesh", "process_sum", "SlabDecomposition",
           "tabulate_distributed", "TabulationReport", "stream_catalog_summary", "make_slab_forward_model",
           "read_slab")
