"""Samplers on a Posterior: BlackJAX NUTS (Stan's windowed adaptation, dense mass matrix:
the default), BlackJAX HMC, Pathfinder-initialised BlackJAX NUTS, and NumPyro NUTS, all on
the same potential (``Posterior.potential``) and the same start (the MAP and its Laplace
matrix, or prior draws).

Chains run as a vmapped batch. Every method runs through one loop, seeded and resumable:

* warmup and sampling run in chunks of one compiled ``lax.scan`` (BlackJAX: Stan's
  adaptation of ``adaptation.py``; NumPyro: its own, which lives in its kernel's state),
  with a progress bar; every ``checkpoint_every`` steps of either phase a checkpoint
  (npz, written to a temporary name and renamed, so no half-written file exists) holds
  the chain states with their step sizes, mass matrices and adaptation states, the PRNG
  keys, the phase and step index, every draw so far and a digest of the spec and code
  version;
* the key of step ``i`` is ``fold_in(key, i)`` (NumPyro: the key each state carries), so
  a resumed run equals an uninterrupted one bit for bit;
* Pathfinder-NUTS's adaptation is BlackJAX's own (one scan, checkpointed after it).

Stall detection stops a run with a message naming the chain and its position: an
adapted step size below ``step_size_floor``, or a chunk whose iterations took more than
``max_seconds_per_iteration`` each (the slowest chain is the one with the most
integration steps).
"""
import os
import time
from typing import Callable, NamedTuple

import jax
import numpy as np
from jax import lax
from jax import numpy as jnp

from .. import __version__
from ..cache import atomic_tmp_path
from .adaptation import FROZEN, build_adaptive_kernel, scan_chunk, warmup_schedule
from .devices import to_host

__all__ = ("SamplerStalled", "RunResult", "run_sampler", "initial_positions", "find_map", "CHECKPOINT_NAME")

CHECKPOINT_NAME = "checkpoint.npz"
_STATS = ("lp", "energy", "acceptance_rate", "diverging", "n_steps", "tree_depth")


class SamplerStalled(RuntimeError):
    """A chain stopped making progress (tiny step size, or iterations too slow)."""


class RunResult(NamedTuple):
    """Draws and statistics of a run; arrays of shape (chains, draws, ...).

    Attributes
    ----------
    posterior : dict
        The free parameters, constrained.
    sample_stats : dict
        lp, energy, acceptance_rate, diverging, n_steps, tree_depth, step_size.
    warmup_seconds, sampling_seconds : float
        Wall time, compilation excluded (it is compile_seconds).
    n_grad_warmup, n_grad_sampling : int
        Gradient evaluations, all chains.
    method : str
    compile_seconds : float
        Ahead-of-time compilation of the chunk function (this process only).
    """

    posterior: dict
    sample_stats: dict
    warmup_seconds: float
    sampling_seconds: float
    n_grad_warmup: int
    n_grad_sampling: int
    method: str
    compile_seconds: float = 0.0


def find_map(posterior, potential, key):
    """The maximum a posteriori point in the unconstrained space, and its Laplace matrix.

    optax Adam from the prior's centre (the median of 256 prior draws), then saddle-free
    Newton steps with Levenberg-Marquardt damping; the Hessian is central differences of
    the exact gradient.

    Returns
    -------
    x : ndarray of shape (d, ), or None where no maximum was found (the Hessian not
        positive definite where the optimiser stopped)
    cov : ndarray of shape (d, d) or None
        The inverse Hessian there.
    unravel : callable
        Flat vector -> dict of the free parameters (``jax.flatten_util.ravel_pytree``
        order, sorted names, as BlackJAX uses).
    """
    from jax.flatten_util import ravel_pytree
    import optax

    many = posterior.to_unconstrained(posterior.draw_prior(key, 256))
    flat0, unravel = ravel_pytree({n: jnp.median(v) for n, v in many.items()})  # the prior's centre
    # one compiled function (value and exact gradient) serves Adam, Newton and the
    # Hessian (central differences of the gradient): compiling a scan of Adam steps and
    # jax.hessian through the model cost ~30 s more than the whole optimisation
    value_and_grad = jax.jit(jax.value_and_grad(lambda x: potential(unravel(x))))

    def hessian(x, h=1e-4):
        cols = [np.asarray(value_and_grad(x + h * e)[1] - value_and_grad(x - h * e)[1]) / (2 * h)
                for e in jnp.eye(x.size)]
        h = np.stack(cols, axis=1)
        return 0.5 * (h + h.T)

    opt = optax.adam(0.05)
    x, state = flat0, opt.init(flat0)
    for _ in range(300):
        updates, state = opt.update(value_and_grad(x)[1], state)
        x = optax.apply_updates(x, updates)
    x = np.asarray(x)
    f, g = (np.asarray(a) for a in value_and_grad(x))
    damping = 1e-3
    for _ in range(40):
        # saddle-free Newton with Levenberg-Marquardt damping: Adam's point need not be
        # where the Hessian is positive definite (a wrong Laplace matrix there made the
        # step size collapse and trees of 1023 steps, seen with 2 chains)
        h = hessian(x)
        if not np.all(np.isfinite(h)):
            break
        w, v = np.linalg.eigh(h)
        dx = v @ ((v.T @ g) / (np.abs(w) + damping * np.abs(w).max()))
        dx *= min(1.0, 1.0 / np.max(np.abs(dx)))  # at most 1 per coordinate (a quarter of its prior range)
        f_new, g_new = (np.asarray(a) for a in value_and_grad(x - dx))
        if np.isfinite(f_new) and f_new <= f:
            x, f, g = x - dx, f_new, g_new
            damping = max(damping / 10, 1e-12)
            if w[0] > 0 and g @ np.linalg.solve(h, g) < 1e-8:  # the Newton decrement
                break
        else:
            damping *= 10
    h = hessian(x)
    w, v = np.linalg.eigh(h) if np.all(np.isfinite(h)) else (np.array([-1.0]), None)
    if w[0] <= 0 or not g @ np.linalg.solve(h, g) < 1e-2:
        return None, None, unravel
    return x, (v / w) @ v.T, unravel


def initial_positions(posterior, sampler, key, potential):
    """Unconstrained starting points for every chain, and an initial inverse mass matrix.

    ``init = "prior"``: draws from the priors (no mass matrix: identity). ``init = "map"``:
    the maximum a posteriori point (``find_map``) and its Laplace approximation, whose
    covariance is the initial dense inverse mass matrix; chains start at draws from that
    Gaussian widened by ``1 + init_dispersion`` (overdispersed, so that R-hat means
    something).

    Returns
    -------
    u : dict of arrays of shape (chains, )
    inverse_mass_matrix : ndarray of shape (d, d) or None
        In the order of ``jax.flatten_util.ravel_pytree`` (sorted names), as BlackJAX uses.
    """
    k_prior, k_disp = jax.random.split(key)
    u = posterior.to_unconstrained(posterior.draw_prior(k_prior, sampler.chains))
    if sampler.init == "prior":
        return u, None
    x, cov, unravel = find_map(posterior, potential, k_prior)
    if x is None:
        import warnings

        warnings.warn("no maximum a posteriori point found (the Hessian is not positive definite where the "
                      "optimiser stopped): chains start from prior draws with an identity mass matrix",
                      RuntimeWarning, stacklevel=2)
        return u, None
    z = np.asarray(jax.random.normal(k_disp, (sampler.chains, x.size)))
    start = x + (1.0 + sampler.init_dispersion) * z @ np.linalg.cholesky(cov).T
    return jax.vmap(unravel)(jnp.asarray(start)), cov


def _algorithm(sampler):
    import blackjax

    if sampler.method in ("nuts", "pathfinder-nuts"):
        return blackjax.nuts, dict(max_num_doublings=sampler.max_tree_depth)
    if sampler.method == "hmc":
        return blackjax.hmc, dict(num_integration_steps=sampler.num_integration_steps)
    raise ValueError(f"not a BlackJAX method: {sampler.method!r}")


def _pathfinder_warmup(sampler, logdensity, key, u0, init):
    """Pathfinder's adaptation (BlackJAX's, one compiled scan) from the first chain's start;
    its step size and inverse mass matrix then tune every chain."""
    import blackjax

    algorithm, extra = _algorithm(sampler)
    adapt = blackjax.pathfinder_adaptation(algorithm, logdensity, target_acceptance_rate=sampler.target_accept,
                                           **extra)
    first = jax.tree_util.tree_map(lambda x: x[0], u0)
    _, params = jax.jit(lambda k, x: adapt.run(k, x, num_steps=sampler.warmup)[0])(key, first)
    imm = params["inverse_mass_matrix"]
    states = init(u0, imm)
    return states._replace(step_size=params["step_size"], inverse_mass_matrix=imm)


class _Chunks:
    """A chunk function compiled ahead of time once per chunk length, so that compilation
    is timed apart from warmup and sampling."""

    def __init__(self, run):
        self._run = run
        self._compiled = {}
        self.compile_seconds = 0.0

    def __call__(self, states, key, start, stages):
        n = stages.shape[0]
        if n not in self._compiled:
            t0 = time.perf_counter()
            self._compiled[n] = self._run.lower(states, key, jnp.asarray(start), jnp.asarray(stages)).compile()
            self.compile_seconds += time.perf_counter() - t0
        return self._compiled[n](states, key, jnp.asarray(start), jnp.asarray(stages))


class _Driver(NamedTuple):
    """How one method's batch of chain states is made and advanced; the loop of
    ``run_sampler`` (chunks, checkpoints, progress, stall checks) is shared."""

    start: Callable      # () -> (states, phase): a fresh start; phase "sampling" if warmup happened inside
    template: Callable   # () -> states of the right structure (for a resume)
    chunk: Callable      # jitted (states, key, start, stages) -> (states, per-step outputs)
    finalize: Callable   # states -> states: the end of warmup
    step_size: Callable  # states -> (chains, )
    position: Callable   # states -> dict of (chains, ) unconstrained positions
    stages: Callable     # (phase, n) -> (n, 2) int array
    place: Callable      # states -> states on the devices the chunks run on


def _as_they_are(states):
    return states


def _frozen_stages(n):
    return np.tile(np.array([FROZEN, 0], dtype=np.int32), (n, 1))


def _blackjax_driver(posterior, sampler, u0, imm0, key):
    def logdensity(u):
        return -posterior.potential(u)

    algorithm, extra = _algorithm(sampler)
    place = _as_they_are
    if sampler.devices > 1:
        from .devices import chain_mesh, replicate_on, shard_chains

        mesh = chain_mesh(sampler.devices, sampler.chains, getattr(posterior.model, "halo_axis", None))
        extra["map_chains"] = shard_chains(mesh)
        if len(mesh.axis_names) == 2:  # a step's states must lie on its mesh, not the model's own
            place = replicate_on(mesh)
    init, step, finalize = build_adaptive_kernel(algorithm, logdensity, dense_mass=sampler.dense_mass,
                                                 target_accept=sampler.target_accept, **extra)
    init_all = jax.jit(init)

    def start():
        if sampler.method == "pathfinder-nuts":
            return _pathfinder_warmup(sampler, logdensity, key, u0, init_all), "sampling"
        return init_all(u0, imm0), "warmup"

    def stages(phase, n):
        return warmup_schedule(n) if phase == "warmup" else _frozen_stages(n)

    def step_size(states):  # one, shared by the chains
        return jnp.broadcast_to(states.step_size, (sampler.chains,))

    return _Driver(start, lambda: jax.eval_shape(init_all, u0, imm0), scan_chunk(step, sampler.chains), finalize,
                   step_size, lambda s: s.chain.position, stages, place)


def _numpyro_driver(posterior, sampler, u0, imm0, key):
    """NumPyro NUTS on the same potential, driven one ``kernel.sample`` at a time (its
    warmup adaptation lives in its state), so that it runs in the same chunks, with the
    same checkpoints and progress, as the BlackJAX methods."""
    from numpyro.infer import NUTS

    # jitted: kernel.init evaluates the potential and its gradient eagerly (17 s op by op
    # on the test posterior, 4 s compiled)
    kernel = NUTS(potential_fn=jax.jit(posterior.potential), dense_mass=sampler.dense_mass, inverse_mass_matrix=imm0,
                  target_accept_prob=sampler.target_accept, max_tree_depth=sampler.max_tree_depth)
    keys = jax.random.split(key, sampler.chains)

    def start():  # also sets up the kernel's sample function: called before any chunk
        return kernel.init(keys, sampler.warmup, u0, (), {}), "warmup"

    def sample_all(states):  # kernel.init with one key per chain made kernel.sample vmapped
        return kernel.sample(states, (), {})

    def run(states, key, start, stages):
        def body(states, _):
            states = sample_all(states)
            n_steps = states.num_steps
            out = dict(position=states.z, lp=-states.potential_energy, energy=states.energy,
                       acceptance_rate=states.accept_prob, diverging=states.diverging, n_steps=n_steps,
                       tree_depth=jnp.floor(jnp.log2(jnp.maximum(n_steps, 1))).astype(int) + 1)
            return states, out

        return lax.scan(body, states, stages)

    return _Driver(start, lambda: start()[0], jax.jit(run), _as_they_are, lambda s: s.adapt_state.step_size,
                   lambda s: s.z, lambda phase, n: _frozen_stages(n), _as_they_are)


# devices: a sharded run draws what a one-device run draws (tests/test_devices.py)
_RESUMABLE_CHANGES = ("samples", "checkpoint_every", "step_size_floor", "max_seconds_per_iteration", "devices")


def _digest(posterior, sampler):
    """What a checkpoint must match to be resumed: the spec, the model, the code version and
    every sampler setting but those a resumed run may change (``samples`` extends a run)."""
    import dataclasses
    import hashlib

    fixed = {k: v for k, v in dataclasses.asdict(sampler).items() if k not in _RESUMABLE_CHANGES}
    settings = hashlib.sha256(repr(sorted(fixed.items())).encode()).hexdigest()[:12]
    return f"{posterior.spec.digest()}-{posterior.model.config.digest()}-{__version__}-{sampler.method}-{settings}"


def _load_checkpoint(path, digest):
    """The arrays of a checkpoint written by the same spec, method and code version; None
    when there is none."""
    if path is None or not os.path.isfile(path):
        return None
    with np.load(path, allow_pickle=False) as f:
        saved = {k: f[k] for k in f.files}
    if str(saved["digest"]) != digest:
        raise ValueError(f"{path} was written by another spec, code version or sampler setting ({saved['digest']} != "
                         f"{digest}; only {', '.join(_RESUMABLE_CHANGES)} may change on a resume); start afresh "
                         "without --resume")
    return saved


def _write_checkpoint(path, digest, states, run, draws, **extra):
    """Write the sampler states (any pytree), the run's counters and the draws so far to a
    temporary name and rename it: no half-written checkpoint exists at any moment. Under
    jax.distributed every process holds the same states, and process 0 writes them."""
    if path is None:
        return
    # every process takes part: a state sharded over them is gathered collectively
    arrays = {f"state_{i}": to_host(leaf) for i, leaf in enumerate(jax.tree_util.tree_leaves(states))}
    if jax.process_index() != 0:
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    arrays.update({f"draws_{k}": v for k, v in draws.items()})
    arrays.update({k: np.array(v) for k, v in run.items()})
    arrays.update({k: np.asarray(v) for k, v in extra.items()})
    tmp = atomic_tmp_path(path)
    with open(tmp, "wb") as f:
        np.savez(f, digest=np.array(digest), **arrays)
    os.replace(tmp, path)


def _host_position(driver, states):
    return jax.tree_util.tree_map(to_host, driver.position(states))


def _describe(u, chain, posterior):
    values = posterior.from_unconstrained({n: v[chain] for n, v in u.items()})
    return ", ".join(f"{n}={float(v):.4g}" for n, v in values.items())


def _check_step_sizes(step_size, position, sampler, posterior):
    step_size = np.atleast_1d(np.asarray(step_size))
    low = np.flatnonzero(step_size < sampler.step_size_floor)
    if low.size:
        c = int(low[0])
        raise SamplerStalled(f"chain {c}: adapted step size {step_size[c]:.2e} is below the floor "
                             f"{sampler.step_size_floor:g}; it sat at {_describe(position, c, posterior)}")


def run_sampler(posterior, sampler, out_dir=None, resume=False, progress=True):
    """Sample a Posterior with the method of ``sampler`` (a SamplerSpec).

    Parameters
    ----------
    posterior : Posterior
    sampler : SamplerSpec
    out_dir : str, optional
        Where checkpoints go; none are written without it.
    resume : bool
        Continue from ``out_dir``'s checkpoint, if it was written by the same spec, code
        version and sampler settings (``samples`` may grow: that extends a run); it may
        have been written during warmup or sampling.
    progress : bool

    Returns
    -------
    result : RunResult
    """
    from tqdm.auto import tqdm

    key = jax.random.PRNGKey(sampler.seed)
    k_init, k_warm, k_sample = jax.random.split(key, 3)
    phase_keys = jnp.stack([k_warm, k_sample])  # raw uint32 keys (PRNGKey)
    digest = _digest(posterior, sampler)
    ckpt = None if out_dir is None else os.path.join(out_dir, CHECKPOINT_NAME)
    u0, imm0 = initial_positions(posterior, sampler, k_init, posterior.potential)
    names = sorted(u0)
    if imm0 is not None:
        imm0 = jnp.asarray(imm0 if sampler.dense_mass else np.diag(imm0))
    make_driver = _numpyro_driver if sampler.method == "numpyro-nuts" else _blackjax_driver
    driver = make_driver(posterior, sampler, u0, imm0, k_warm)
    saved = _load_checkpoint(ckpt, digest) if resume else None
    run = dict(phase="warmup", done=0, warmup_seconds=0.0, sampling_seconds=0.0, n_grad_warmup=0, n_grad_sampling=0)
    draws = {}
    if saved is not None:
        treedef = jax.tree_util.tree_structure(driver.template())
        states = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(saved[f"state_{i}"])
                                                        for i in range(treedef.num_leaves)])
        run.update({k: saved[k].item() for k in run})
        phase_keys = jnp.asarray(saved["keys"])
        draws = {k[6:]: saved[k] for k in saved if k.startswith("draws_")}
    else:
        t0 = time.perf_counter()
        states, run["phase"] = driver.start()
        if run["phase"] == "sampling":  # Pathfinder: warmup happened inside
            jax.block_until_ready(states)
            run["warmup_seconds"] = time.perf_counter() - t0

    states = driver.place(states)

    def checkpoint():
        _write_checkpoint(ckpt, digest, states, run, draws, keys=phase_keys)

    if saved is None:
        checkpoint()
    chunks = _Chunks(driver.chunk)
    size = max(1, min(sampler.checkpoint_every, 50))
    phases = (("warmup", sampler.warmup, phase_keys[0]), ("sampling", sampler.samples, phase_keys[1]))
    for phase, total, phase_key in phases:
        if run["phase"] != phase:
            continue
        if phase == "sampling":
            _check_step_sizes(to_host(driver.step_size(states)), _host_position(driver, states), sampler, posterior)
        stages = driver.stages(phase, total)
        bar = tqdm(total=total, initial=run["done"], desc=f"{phase} ({sampler.chains} chains)",
                   disable=not progress or jax.process_index() != 0)
        since_checkpoint = 0
        while run["phase"] == phase and run["done"] < total:
            done = run["done"]
            n = min(size, total - done)
            t0 = time.perf_counter()
            compile_before = chunks.compile_seconds
            states, out = chunks(states, phase_key, done, stages[done:done + n])
            out = jax.tree_util.tree_map(to_host, out)
            elapsed = time.perf_counter() - t0 - (chunks.compile_seconds - compile_before)
            run[f"{phase}_seconds"] += elapsed
            run[f"n_grad_{phase}"] += int(out["n_steps"].sum())
            if phase == "sampling":
                for name in names:
                    out[f"u_{name}"] = out["position"][name]
                out.pop("position")
                for k, v in out.items():
                    v = np.swapaxes(v, 0, 1)  # (chains, n)
                    draws[k] = v if k not in draws else np.concatenate([draws[k], v], axis=1)
            run["done"] = done + n
            since_checkpoint += n
            bar.update(n)
            if since_checkpoint >= sampler.checkpoint_every or run["done"] == total:
                if phase == "warmup" and run["done"] == total:
                    states = driver.finalize(states)
                    run.update(phase="sampling", done=0)
                checkpoint()
                since_checkpoint = 0
            if elapsed / n > sampler.max_seconds_per_iteration:
                checkpoint()
                c = int(np.argmax(out["n_steps"].sum(axis=0)))
                raise SamplerStalled(f"{phase} iterations took {elapsed / n:.1f} s each (limit "
                                     f"{sampler.max_seconds_per_iteration:g} s); the slowest is chain {c} "
                                     f"({int(out['n_steps'][:, c].mean())} integration steps per iteration), at "
                                     f"{_describe(_host_position(driver, states), c, posterior)}")
        bar.close()
        if phase == "warmup" and run["phase"] == "warmup":  # zero warmup steps
            states = driver.finalize(states)
            run.update(phase="sampling", done=0)
    u = {n: jnp.asarray(draws[f"u_{n}"]) for n in names}
    post = {n: np.asarray(v) for n, v in posterior.from_unconstrained(u).items()}
    stats = {k: draws[k] for k in _STATS}
    stats["step_size"] = np.broadcast_to(to_host(driver.step_size(states))[:, None], stats["lp"].shape).copy()
    return RunResult(post, stats, run["warmup_seconds"], run["sampling_seconds"], run["n_grad_warmup"],
                     run["n_grad_sampling"], sampler.method, chunks.compile_seconds)
