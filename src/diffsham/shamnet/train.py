"""Train SHAMNet with optax, in two stages.

1. Regression on the exact solver: for parameters theta drawn from the training domain,
   the solver's <log M*> on the halo cells and its theta-Jacobian (implicit derivatives)
   are the targets. Dense targets make this stage fast and accurate. The solver runs
   once per theta; its results are cached in ``outdir`` in chunks, so an interrupted
   run resumes where it stopped.
2. The SMF loss and the SMF-gradient loss: for fresh random theta every step, the SMF
   implied by the network (halo abundance convolved with the triweight scatter,
   DESIGN.md) against the target Schechter SMF in narrow bins, and the derivatives of
   the two with respect to theta (the target's are the analytic Schechter derivatives,
   zero for the scatter), with the regression term kept as a weak anchor
   (``regression_weight``: the regression loss is ~10^3 in its units, the SMF loss
   ~10^-4 in dex^2).

Run ``python -m diffsham.shamnet.train --help`` or ``diffsham train-shamnet``.
"""
import json
import os
import time

import jax
import numpy as np
import optax
from jax import numpy as jnp
from tqdm.auto import tqdm

import h5py

from .. import __version__
from ..sham.params import SHAM_PBOUNDS_HI, SHAM_PBOUNDS_LO, TARGET_LOG_PHI, ShamParams, as_params, target_smf_params
from ..sham.shmf import DEFAULT_HALO_GRID
from ..sham.solver import DEFAULT_SOLVER_CONFIG, solve_sham, zero_scatter_log_sm
from .io import load_shamnet, save_shamnet
from .network import ShamNet, correction, init_mlp
from .validation import log_smf_errors_and_jacobian, sample_theta, smf_accuracy

__all__ = ("TrainConfig", "train_shamnet", "solver_targets")

TRAIN_SM_EDGES = np.linspace(8.2, 11.8, 91)  # 0.04 dex (NumPy: nothing computed at import)


class TrainConfig(dict):
    """Settings of a training run (a dict, stored verbatim in the weights file)."""

    DEFAULTS = dict(
        seed=0,
        n_solver=2048,
        n_regression_steps=8000,
        regression_batch=32,
        n_steps=1000,
        batch=16,
        lr=3e-3,
        lr_final=1e-5,
        hidden=(48, 48, 48),
        grad_weight=0.1,
        regression_weight=1e-7,
        checkpoint_every=500,
        n_valid=64,
        logmh_lo=10.0,
        logmh_hi=16.5,
        init_from="",
    )

    def __init__(self, **kw):
        unknown = set(kw) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown training setting(s): {sorted(unknown)}")
        super().__init__({**self.DEFAULTS, **kw})


def _domain():
    return SHAM_PBOUNDS_LO, SHAM_PBOUNDS_HI


def _padded_domain():
    # Train slightly beyond the domain so its edges are as well trained as its centre
    lo, hi = _domain()
    pad = 0.03 * (hi - lo)
    return lo - pad, hi + pad


# ---------------------------------------------------------------- stage 1: solver data

_SOLVER_CHUNK = 32


@jax.jit
def _solve_batch(thetas):
    def one(theta):
        def f(t):
            sol = solve_sham(ShamParams(*t))
            return sol.mean_log_sm, (sol.mean_log_sm, sol.log_resid)

        jac, (mu, resid) = jax.jacfwd(f, has_aux=True)(theta)
        return mu, jac, resid

    return jax.vmap(one)(thetas)


def solver_targets(config, outdir, progress=True):
    """The exact solver's <log M*> and theta-Jacobian for ``n_solver`` random theta.

    Computed in chunks, each written atomically to ``outdir/solver_targets/``, so an
    interrupted run resumes; a chunk is reused only if its theta match.

    Returns
    -------
    thetas : ndarray of shape (n_solver, 5)
    mu : ndarray of shape (n_solver, n_cells)
    jac : ndarray of shape (n_solver, n_cells, 5)
    resid_max : ndarray of shape (n_solver, )
        The solver's worst |log10 SMF/target| over log M* 8.7-11.7 for each theta.
    """
    lo, hi = _padded_domain()
    key = jax.random.fold_in(jax.random.PRNGKey(config["seed"]), 1)
    thetas = np.asarray(sample_theta(key, config["n_solver"], lo, hi))
    folder = os.path.join(outdir, "solver_targets")
    os.makedirs(folder, exist_ok=True)
    edges = np.asarray(DEFAULT_SOLVER_CONFIG.fit_edges())
    centres = 0.5 * (edges[1:] + edges[:-1])
    in_range = (centres > 8.7) & (centres < 11.7)
    out = dict(mu=[], jac=[], resid_max=[])
    starts = range(0, len(thetas), _SOLVER_CHUNK)
    for start in tqdm(starts, disable=not progress, desc="exact solver"):
        chunk = thetas[start : start + _SOLVER_CHUNK]
        path = os.path.join(folder, f"chunk_{start:06d}.h5")
        data = _read_chunk(path, chunk)
        if data is None:
            mu, jac, resid = (np.asarray(x) for x in _solve_batch(jnp.asarray(chunk)))
            data = dict(theta=chunk, mu=mu, jac=jac, resid_max=np.abs(resid[:, in_range]).max(axis=1))
            _write_chunk(path, data)
        for k in out:
            out[k].append(data[k])
    return (thetas, *(np.concatenate(out[k]) for k in ("mu", "jac", "resid_max")))


def _read_chunk(path, thetas):
    if not os.path.exists(path):
        return None
    with h5py.File(path, "r") as f:
        if not np.array_equal(f["theta"][...], thetas):
            return None
        return {k: f[k][...] for k in ("theta", "mu", "jac", "resid_max")}


def _write_chunk(path, data):
    with h5py.File(path + ".tmp", "w") as f:
        for k, v in data.items():
            f.create_dataset(k, data=v)
    os.replace(path + ".tmp", path)


# ---------------------------------------------------------------- losses

_MU_SCALE = 1e-3  # dex: regression residuals are measured in units of this
_JAC_SCALE = 1e-2


def _regression_loss_one(weights, bounds, theta, mu0, jac0, corr_target, jac_target, cell_weight):
    """Squared error of the MLP correction and its theta-Jacobian against the solver's
    at a subset of halo cells (the exact zero-scatter part is subtracted from the
    targets once, beforehand). A random subset of cells per step is as good as all and
    far cheaper. The MLP's input mu0 depends on theta too: its Jacobian jac0 enters
    through a JVP, exactly as in the full prediction."""

    def corr(t, m):
        return correction(weights, bounds, t, m)

    def corr_jvp(tangent):
        return jax.jvp(corr, (theta, mu0), (tangent, jac0 @ tangent))[1]

    r_mu = (corr(theta, mu0) - corr_target) / _MU_SCALE
    jac = jax.vmap(corr_jvp, out_axes=1)(jnp.eye(theta.shape[0]))
    # relative for large derivatives: at the flat faint end of the SMF they reach ~10^3
    r_jac = (jac - jac_target) / (_JAC_SCALE * (1.0 + jnp.abs(jac_target)))
    w = cell_weight / jnp.sum(cell_weight)
    return jnp.sum(w * r_mu**2) + jnp.sum(w[:, None] * r_jac**2) / 5.0


@jax.jit
def _zero_scatter_and_jacobian(thetas):
    def mu0(t):
        return zero_scatter_log_sm(TARGET_LOG_PHI, target_smf_params(as_params(t)), DEFAULT_HALO_GRID)

    return jax.vmap(mu0)(thetas), jax.vmap(jax.jacfwd(mu0))(thetas)


def correction_targets(thetas, mu, jac):
    """Solver SMHM minus exact zero-scatter matching: what the MLP must learn.

    Returns mu0, its theta-Jacobian, the correction, its theta-Jacobian and the cell
    weights, each with the leading shape (n_theta, n_cells)."""
    out = [[] for _ in range(5)]
    for start in range(0, len(thetas), 256):
        sl = slice(start, start + 256)
        mu0, jac0 = (np.asarray(x) for x in _zero_scatter_and_jacobian(jnp.asarray(thetas[sl])))
        for lst, x in zip(out, (mu0, jac0, mu[sl] - mu0, jac[sl] - jac0, _cell_weights(mu[sl]))):
            lst.append(np.asarray(x))
    return tuple(jnp.asarray(np.concatenate(x)) for x in out)


def _smf_loss_one(weights, bounds, theta, grad_weight):
    r, gr = log_smf_errors_and_jacobian(weights, bounds, theta, TRAIN_SM_EDGES, refine=False)
    return jnp.mean(r * r) + grad_weight * jnp.mean(gr * gr)


def _cell_weights(mu):
    # Cells whose galaxies fall below the fitted SMF range (log M* < 8) barely matter;
    # there the flat faint end makes <log M*> and its derivatives large and erratic
    return jnp.where(mu > 8.0, 1.0, jnp.where(mu > 7.0, 1e-2, 1e-4))


_N_CELLS_PER_STEP = 64


def _regression_batch(key, batch, targets):
    """Random theta (rows) and, for each, random halo cells of the solver targets."""
    k1, k2 = jax.random.split(key)
    n_theta, n_cells = targets[0].shape[:2]
    rows = jax.random.randint(k1, (batch,), 0, n_theta)
    cells = jax.random.randint(k2, (batch, _N_CELLS_PER_STEP), 0, n_cells)
    return rows, *(a[rows[:, None], cells] for a in targets)


def _make_regression_step(optimizer, bounds):
    def batch_loss(weights, *batch):
        f = lambda *a: _regression_loss_one(weights, bounds, *a)  # noqa: E731
        return jnp.mean(jax.vmap(f)(*batch))

    @jax.jit
    def step(weights, opt_state, *batch):
        loss, grads = jax.value_and_grad(batch_loss)(weights, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, weights)
        return optax.apply_updates(weights, updates), opt_state, loss

    return step


def _make_smf_step(optimizer, bounds, grad_weight, regression_weight):
    def batch_loss(weights, thetas, *reg_batch):
        smf = jax.vmap(lambda t: _smf_loss_one(weights, bounds, t, grad_weight))(thetas)
        f = lambda *a: _regression_loss_one(weights, bounds, *a)  # noqa: E731
        reg = jax.vmap(f)(*reg_batch)
        return jnp.mean(smf) + regression_weight * jnp.mean(reg)

    @jax.jit
    def step(weights, opt_state, thetas, *reg_batch):
        loss, grads = jax.value_and_grad(batch_loss)(weights, thetas, *reg_batch)
        updates, opt_state = optimizer.update(grads, opt_state, weights)
        return optax.apply_updates(weights, updates), opt_state, loss

    return step


# ---------------------------------------------------------------- the run


def train_shamnet(config=None, outdir="out/shamnet", resume=True, progress=True):
    """Train SHAMNet; checkpoints in ``outdir``, resumable.

    Parameters
    ----------
    config : TrainConfig, optional
    outdir : str
        Receives the cached solver targets, ``shamnet_checkpoint.h5`` every
        ``checkpoint_every`` steps and ``shamnet.h5``, the final weights with their
        validation metrics.
    resume : bool
        Continue from the checkpoint in ``outdir`` when it has the same config.
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    net : ShamNet
    """
    config = config or TrainConfig()
    os.makedirs(outdir, exist_ok=True)
    theta_lo, theta_hi = _domain()
    bounds = (jnp.asarray(theta_lo), jnp.asarray(theta_hi), config["logmh_lo"], config["logmh_hi"])
    key = jax.random.PRNGKey(config["seed"])
    key, k_init, k_valid = jax.random.split(key, 3)
    sizes = (6, *config["hidden"], 1)
    n_reg, n_smf = config["n_regression_steps"], config["n_steps"]
    n_total = n_reg + n_smf

    def make_net(weights, step_done, metrics=None):
        meta = dict(
            version=__version__,
            architecture=dict(sizes=list(sizes), activation="tanh", output="mu0 + MLP(theta, mu0)"),
            shmf="Bolshoi-Planck fit, z=0 (diffsham.sham.shmf.log_ncum_bpl)",
            inputs=[*ShamParams._fields, "logmpeak (through mu0)"],
            units="h=1: M* in Msun/h^2, Mpeak in Msun/h, phi* in h^3 Mpc^-3",
            train_config=json.loads(json.dumps(config)),
            step=int(step_done),
            validation=metrics or {},
        )
        return ShamNet(weights, theta_lo, theta_hi, config["logmh_lo"], config["logmh_hi"], meta)

    weights, start = init_mlp(k_init, sizes), 0
    if config["init_from"]:
        weights = load_shamnet(config["init_from"]).weights
        print(f"starting from the weights in {config['init_from']}")
    ckpt = os.path.join(outdir, "shamnet_checkpoint.h5")
    if resume and os.path.exists(ckpt):
        prev = load_shamnet(ckpt)
        if prev.metadata.get("train_config") == json.loads(json.dumps(config)):
            weights, start = prev.weights, int(prev.metadata["step"])
            print(f"resuming from {ckpt} at step {start} (Adam moments restart)")

    thetas, mu, jac, resid = solver_targets(config, outdir, progress)
    print(f"solver targets: {len(thetas)} theta; SMF residual over 8.7-11.7 median "
          f"{np.median(resid):.1e}, {np.mean(resid <= 1e-3):.0%} within 1e-3 dex")
    targets = correction_targets(thetas, mu, jac)
    thetas = jnp.asarray(thetas)

    def schedule_for(n, offset):
        sched = optax.cosine_decay_schedule(config["lr"], n, alpha=config["lr_final"] / config["lr"])
        return lambda count: sched(count + offset)

    bar = tqdm(total=n_total, initial=start, disable=not progress, desc="SHAMNet")
    t0 = time.time()
    pad_lo, pad_hi = _padded_domain()
    for stage, (first, last) in enumerate(((0, n_reg), (n_reg, n_total))):
        if start >= last or last == first:
            continue
        done = max(start, first) - first
        # the SMF stage starts from a tenth of the initial rate: it refines, not relearns
        lr_scale = 1.0 if stage == 0 else 0.1
        optimizer = optax.adam(lambda c: lr_scale * schedule_for(last - first, done)(c))
        opt_state = optimizer.init(weights)
        if stage == 0:
            step = _make_regression_step(optimizer, bounds)
        else:
            step = _make_smf_step(optimizer, bounds, config["grad_weight"], config["regression_weight"])
        for i in range(max(start, first), last):
            k = jax.random.fold_in(key, i)
            rows, *reg = _regression_batch(k, config["regression_batch"], targets)
            if stage == 0:
                weights, opt_state, loss = step(weights, opt_state, thetas[rows], *reg)
            else:
                fresh = sample_theta(jax.random.fold_in(k, 1), config["batch"], pad_lo, pad_hi)
                weights, opt_state, loss = step(weights, opt_state, fresh, thetas[rows], *reg)
            bar.update(1)
            if (i + 1) % 50 == 0:
                bar.set_postfix(stage=stage + 1, loss=f"{float(loss):.2e}")
            if (i + 1) % config["checkpoint_every"] == 0 or i + 1 == last:
                save_shamnet(make_net(weights, i + 1), ckpt)
    bar.close()

    valid_thetas = sample_theta(k_valid, config["n_valid"], theta_lo, theta_hi)
    stats, _, _ = smf_accuracy(make_net(weights, n_total), valid_thetas, refine=False)
    stats["train_seconds"] = time.time() - t0
    net = make_net(weights, n_total, stats)
    save_shamnet(net, os.path.join(outdir, "shamnet.h5"))
    print("validation (%d draws, log M* 8.7-11.7):" % config["n_valid"])
    print(json.dumps(stats, indent=1))
    return net

