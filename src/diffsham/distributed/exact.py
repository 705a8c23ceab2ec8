"""The forward model of a catalog file over the processes of ``jax.distributed``.

Two paths, as ``model.make_forward_model``:

- **tabulated**: ``tabulate_distributed`` builds the tables over the processes; every
  process then holds the small tables and predicts on its own (a sampler's step needs
  no communication).
- **exact**: every process keeps its slab and ghost shell (``SlabDecomposition``) and
  evaluates its halos' weights; the one-point sums of the halos it owns and the pair
  sums of its slab (``stats.cells.SlabColumns``) are summed over the processes by a
  ``psum`` inside the kernel (``jax.shard_map`` over one device per process). The
  kernel stays one jittable, differentiable function, identical on every process: JAX
  transposes the psum for reverse mode, so a gradient is one more collective of the
  same small sums. Inside a sampler's (chain, halo) mesh (``diffsham.infer.devices``),
  whose shard_map is manual over ``chain`` only, the kernel's shard_map is nested and
  manual over ``halo``: each chain device of a process sums with the same device
  position of the other processes.
"""
import jax

from ..catalog.hdf5_io import catalog_header
from ..model.config import resolve_config
from ..model.core import make_kernel
from ..model.forward import exact_tables, model_from_plan, plan_forward_model, tabulated_tables
from ..model.smhm import make_smhm
from ..stats.cells import sort_slab_into_columns
from ..stats.pair_counts import check_pair_binning
from .runtime import HALO_AXIS, process_mesh
from .slabs import SlabDecomposition, read_slab
from .tabulate import DEFAULT_CHUNK_ROWS, stream_catalog_summary, tabulate_distributed

__all__ = ("make_slab_forward_model",)


def make_slab_forward_model(catalog_file, smf_bins=None, wp_bins=None, ds_bins=None, *, config=None, net=None,
                            ds_lenses="all", subdivide=2, chunk_rows=DEFAULT_CHUNK_ROWS, progress=True, **settings):
    """``make_forward_model`` for a catalog file, split over the processes.

    Call it on every process (after ``initialize``); with one process it equals
    ``make_forward_model(read_catalog(catalog_file), ...)``. Arguments as there; ``subdivide``
    and ``chunk_rows`` as for ``tabulate_distributed``. The exact path counts pairs
    with the numba backend.

    Returns
    -------
    model : ForwardModel
        Its ``kernel`` closes over this process's tables (its ``tables`` argument is
        ignored on the exact path): call it inside ``jit`` as ``model.kernel(theta,
        model.tables)``, on every process alike.
    """
    header = catalog_header(catalog_file)
    config = resolve_config(config, settings)
    space, tabulated = config.space, config.path == "tabulated"
    # one pass over the file: the masses, and the cache key where a tabulation needs it
    binning = (config.rp_edges, config.pi_max, config.dlogm) if tabulated else ()
    summary = stream_catalog_summary(catalog_file, *binning, space=space, chunk_rows=chunk_rows)
    masses = summary[1]
    plan = plan_forward_model(masses, header["lbox"], header.get("delta_sigma_rp_edges"), smf_bins, wp_bins, ds_bins,
                              config=config, net=net, ds_lenses=ds_lenses, settings={})
    if tabulated:
        tab, _ = tabulate_distributed(catalog_file, *binning, space=space, subdivide=subdivide,
                                      cache_dir=config.cache_dir, chunk_rows=chunk_rows, progress=progress,
                                      summary=summary)
        tables, statics = tabulated_tables(plan, tab)
        kernel = make_kernel(statics, make_smhm(config.smhm, plan.net, "direct"))
        return model_from_plan(plan, kernel, tables, statics, masses.logm_min)
    if config.pair_backend == "jax":
        raise ValueError("the exact path over processes counts pairs with the numba backend; pair_backend 'jax' "
                         "is for one process")
    lbox = header["lbox"]
    edges = check_pair_binning(lbox, config.rp_edges, config.pi_max)
    rank = jax.process_index()
    decomposition = SlabDecomposition.for_binning(lbox, edges[-1], jax.process_count(), subdivide)
    local, owned = read_slab(catalog_file, decomposition, rank, space=space, chunk_rows=chunk_rows)
    cells = None
    if plan.wp_bins is not None:
        cells = sort_slab_into_columns(local.positions, lbox, edges[-1], subdivide, decomposition.columns(rank))
    tables, statics = exact_tables(plan, local, cells, edges, own=owned)
    local_kernel = make_kernel(statics, make_smhm(config.smhm, plan.net, "grid"), reduce_sums=_sum_over_processes)
    mesh = process_mesh()
    from jax.sharding import PartitionSpec as P

    def kernel(theta, _tables=None):
        # the tables are this process's own constants, closed over: a global array of
        # them could not be closed over by the caller's jit
        def local(t):
            return local_kernel(t, tables)

        context = jax.sharding.get_abstract_mesh()
        if HALO_AXIS in context.axis_names and HALO_AXIS not in context.manual_axes:  # in the chains' mesh
            return jax.shard_map(local, mesh=context, in_specs=P(), out_specs=P(), axis_names={HALO_AXIS},
                                 check_vma=False)(theta)
        return jax.shard_map(local, mesh=mesh, in_specs=P(), out_specs=P(), check_vma=False)(theta)

    return model_from_plan(plan, kernel, tables, statics, masses.logm_min, halo_axis=HALO_AXIS)


def _sum_over_processes(sums):
    return jax.tree_util.tree_map(lambda x: jax.lax.psum(x, HALO_AXIS), sums)

