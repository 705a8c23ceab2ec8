"""Stan's windowed warmup, driven in steps, pooled over chains, and the sampling steps
after it, as one pure kernel.

BlackJAX's ``window_adaptation(...).run`` is one compiled scan of one chain: nothing can
be shown, checkpointed or resumed inside it, and each chain tunes itself alone. The same
scheme is composed here from BlackJAX's own public pieces (``build_schedule``,
``dual_averaging_adaptation``, ``mass_matrix_adaptation``), for a batch of chains that
share their tuning:

* a fast window where dual averaging adapts the step size only, driven by the mean
  acceptance over the chains;
* doubling slow windows that also accumulate every chain's positions (Welford); at each
  window's end the inverse mass matrix is recomputed, and dual averaging restarts from
  the averaged step size;
* a final fast window. At the end the step size is the dual-averaging average.

Pooling gives the mass matrix C times the draws and one step size for all chains
(measured on the test posterior: chains tuned alone settled on step sizes 2x apart, and
the largest one diverged near a prior bound). The chains stay independent given the
tuning, which is frozen after warmup, so R-hat keeps its meaning.

A sampling step is the same step with adaptation off (stage ``FROZEN``), so warmup and
sampling compile one function, and both run in chunks of any length.

The chains' transitions are the only per-chain work; ``map_chains`` says how they are
mapped (default: one vmapped batch; ``diffsham.infer.devices.shard_chains``: the batch
split over a device mesh, each device running its own chains' trees). The pooled tuning
is computed on the whole batch either way.
"""
from typing import Any, NamedTuple

import jax
import numpy as np
from jax import lax
from jax import numpy as jnp

__all__ = ("AdaptState", "FROZEN", "build_adaptive_kernel", "scan_chunk", "warmup_schedule")

FAST, SLOW, FROZEN = 0, 1, 2


class AdaptState(NamedTuple):
    """A batch of C chains and their shared tuning.

    Attributes
    ----------
    chain : HMCState
        BlackJAX's states (position, logdensity, gradient), leading axis C.
    ss_state : DualAveragingAdaptationState
    imm_state : MassMatrixAdaptationState
    step_size : scalar
        The step size the next transitions use.
    inverse_mass_matrix : array of shape (d, d) or (d, )
    """

    chain: Any
    ss_state: Any
    imm_state: Any
    step_size: Any
    inverse_mass_matrix: Any


def warmup_schedule(num_steps):
    """Stan's schedule: array of shape (num_steps, 2) of (stage, is_window_end).

    Stage 0 is a fast window, 1 a slow one. Below 20 steps every step is fast.
    """
    from blackjax.adaptation.window_adaptation import build_schedule

    if num_steps == 0:
        return np.zeros((0, 2), dtype=np.int32)
    return np.asarray(build_schedule(num_steps), dtype=np.int32).reshape(num_steps, 2)


def _one_batch(transition):
    return transition


def build_adaptive_kernel(algorithm, logdensity, *, dense_mass, target_accept, initial_step_size=1.0,
                          map_chains=_one_batch, **extra):
    """(init, step, finalize) of Stan's windowed adaptation, pooled over a batch of chains.

    Parameters
    ----------
    algorithm : blackjax.nuts or blackjax.hmc
    logdensity : callable
        ``logdensity(position, *args)``: log density of one position (a pytree). The
        ``args`` (a data vector, say) are passed to ``init`` and ``step`` and shared by
        the batch, so that one compiled kernel can be vmapped over data sets.
    dense_mass : bool
    target_accept : float
    initial_step_size : float
    map_chains : callable, optional
        ``map_chains(transition) -> transition``, where ``transition(tuning, keys,
        chains) -> (chains, info)`` steps a batch (vmapped) with ``tuning = (step_size,
        inverse_mass_matrix)``; the default applies it as is (one batch).
    **extra
        The algorithm's own options (max_num_doublings, num_integration_steps).

    Returns
    -------
    init(positions, inverse_mass_matrix=None, *args) -> AdaptState
        ``positions``: a pytree with a leading chain axis.
    step(state, keys, stage, *args) -> (AdaptState, info)
        ``keys``: one per chain; ``stage`` is (stage, is_window_end); ``(FROZEN, 0)``
        samples with fixed tuning. ``info`` has a leading chain axis.
    finalize(state) -> AdaptState
        The tuning that sampling uses: the averaged step size.
    """
    from blackjax.adaptation.mass_matrix import mass_matrix_adaptation
    from blackjax.adaptation.step_size import dual_averaging_adaptation
    from jax.flatten_util import ravel_pytree

    mm_init, mm_update, mm_final = mass_matrix_adaptation(not dense_mass)
    da_init, da_update, da_final = dual_averaging_adaptation(target_accept)

    def bound(args):
        return (lambda u: logdensity(u, *args)) if args else logdensity

    def init(positions, inverse_mass_matrix=None, *args):
        first = jax.tree_util.tree_map(lambda x: x[0], positions)
        imm_state = mm_init(ravel_pytree(first)[0].size, inverse_mass_matrix)
        imm = imm_state.inverse_mass_matrix
        kernel = algorithm(bound(args), step_size=initial_step_size, inverse_mass_matrix=imm, **extra)
        chain = jax.vmap(kernel.init)(positions)
        return AdaptState(chain, da_init(initial_step_size), imm_state, jnp.asarray(initial_step_size, float), imm)

    def accumulate(imm_state, positions):
        return lax.scan(lambda m, x: (mm_update(m, x), None), imm_state, positions)[0]

    def window_end(ss_state, imm_state):
        return da_init(da_final(ss_state)), mm_final(imm_state)

    def step(state, keys, stage, *args):
        def transition(tuning, keys, chains):
            kernel = algorithm(bound(args), step_size=tuning[0], inverse_mass_matrix=tuning[1], **extra)
            return jax.vmap(kernel.step)(keys, chains)

        chain, info = map_chains(transition)((state.step_size, state.inverse_mass_matrix), keys, state.chain)
        adapting = stage[0] != FROZEN
        acceptance = jnp.mean(jnp.nan_to_num(info.acceptance_rate))
        ss_state = lax.cond(adapting, lambda s: da_update(s, acceptance), lambda s: s, state.ss_state)
        imm_state = lax.cond(stage[0] == SLOW, accumulate, lambda m, x: m, state.imm_state, chain.position)
        ss_state, imm_state = lax.cond(stage[1] != 0, window_end, lambda s, m: (s, m), ss_state, imm_state)
        step_size = jnp.where(adapting, jnp.exp(ss_state.log_step_size), state.step_size)
        return AdaptState(chain, ss_state, imm_state, step_size, imm_state.inverse_mass_matrix), info

    def finalize(state):
        return state._replace(step_size=da_final(state.ss_state))

    return init, step, finalize


def scan_chunk(step, key_shape):
    """A compiled chunk of ``n`` steps of a batch of chains.

    ``step(states, keys, stage, *args)`` advances the batch; ``key_shape`` is the shape
    of its ``keys`` (``(C,)``, or ``(R, C)`` for R data sets vmapped). Returns
    ``run(states, base_key, start, stages, *args)`` -> (states, per-step outputs), where
    ``stages`` has shape (n, 2) and step ``i`` draws its keys from
    ``fold_in(base_key, start + i)``: a run cut into chunks anywhere equals an uncut one.
    """
    key_shape = tuple(np.atleast_1d(key_shape))

    def run(states, base_key, start, stages, *args):
        def body(states, xs):
            i, stage = xs
            keys = jax.random.split(jax.random.fold_in(base_key, start + i), key_shape)
            states, info = step(states, keys, stage, *args)
            zeros = jnp.zeros(key_shape, int)
            out = dict(position=states.chain.position, lp=states.chain.logdensity, energy=info.energy,
                       acceptance_rate=info.acceptance_rate, diverging=info.is_divergent,
                       n_steps=getattr(info, "num_integration_steps", zeros),
                       tree_depth=getattr(info, "num_trajectory_expansions", zeros))
            return states, out

        return lax.scan(body, states, (jnp.arange(stages.shape[0]), stages))

    return jax.jit(run)
