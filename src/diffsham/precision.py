"""diffsham computes in float64, and says so where a model is built.

Importing diffsham changes no JAX setting. The builders (``make_forward_model``,
``load_shamnet``, ``solve_sham``, the catalog tabulation) switch JAX's x64 mode on when
they are called, with :func:`enable_float64`: in float32 the SMF's cumulative integrals
lose the exponential tail and pair-count differences cancel. Eager predictions check
with :func:`require_float64` that nobody has switched it off since, so float32
statistics cannot be had silently.
"""
import jax

__all__ = ("enable_float64", "require_float64")


def enable_float64():
    """Switch on JAX's x64 mode (idempotent); arrays made before stay as they are."""
    if not jax.config.read("jax_enable_x64"):
        jax.config.update("jax_enable_x64", True)


def require_float64(where="diffsham"):
    """RuntimeError unless JAX's x64 mode is on."""
    if not jax.config.read("jax_enable_x64"):
        raise RuntimeError(f"{where} needs float64, but JAX's x64 mode was switched off after the model "
                           "was built; switch it back on with jax.config.update('jax_enable_x64', True)")
