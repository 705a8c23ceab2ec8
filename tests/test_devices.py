"""Chains across devices (diffsham.infer.devices): the sharded adaptive kernel draws what
the one-device kernel draws, with each device holding its own chains; clear errors for
settings that cannot work. Two virtual CPU devices at most (never more than the cores).
The whole sharded fit through the CLI is in test_infer (test_sharded_fit_equals_unsharded)."""
import os
import subprocess
import sys
import textwrap

import pytest

from diffsham.infer import SpecError, read_spec

KERNEL_SCRIPT = textwrap.dedent("""
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax, numpy as np, blackjax
    from jax import numpy as jnp
    jax.config.update("jax_enable_x64", True)
    from diffsham.infer.adaptation import build_adaptive_kernel, scan_chunk, warmup_schedule
    from diffsham.infer.devices import chain_mesh, shard_chains

    assert len(jax.devices()) == 2
    cov = jnp.array([[1.0, 0.95, 0.0], [0.95, 1.0, 0.2], [0.0, 0.2, 4.0]])
    prec = jnp.linalg.inv(cov)
    logdensity = lambda u: -0.5 * u["x"] @ prec @ u["x"]
    u0 = {"x": jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)))}
    stages = jnp.asarray(np.concatenate([warmup_schedule(60), np.tile([[2, 0]], (40, 1))]).astype(np.int32))
    out = {}
    for label, extra in (("one", {}), ("two", {"map_chains": shard_chains(chain_mesh(2, 4))})):
        init, step, _ = build_adaptive_kernel(blackjax.nuts, logdensity, dense_mass=True, target_accept=0.9, **extra)
        states, draws = scan_chunk(step, 4)(init(u0), jax.random.PRNGKey(3), 0, stages)
        out[label] = (np.asarray(draws["position"]["x"]), np.asarray(states.inverse_mass_matrix),
                      float(states.step_size), draws["position"]["x"].sharding.device_set)
    one, two = out["one"], out["two"]
    assert len(two[3]) == 2, two[3]  # the sharded draws live on both devices
    assert np.all(np.isfinite(one[0])) and one[0].std() > 0.1
    np.testing.assert_allclose(two[0], one[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(two[1], one[1], rtol=0, atol=1e-12)
    assert abs(two[2] - one[2]) < 1e-12
    print("identical" if np.array_equal(two[0], one[0]) else "within 1e-12")
""")


def test_sharded_kernel_draws_what_one_device_draws():
    run = subprocess.run([sys.executable, "-c", KERNEL_SCRIPT], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != "XLA_FLAGS"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() in ("identical", "within 1e-12")


REFINED_SCRIPT = textwrap.dedent("""
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax, numpy as np
    from jax import numpy as jnp
    from jax.sharding import Mesh, PartitionSpec as P
    from diffsham.catalog import SyntheticConfig, make_synthetic_catalog
    from diffsham.model import make_forward_model

    cat = make_synthetic_catalog(SyntheticConfig(lbox=40.0, logmpeak_min=11.3, seed=9, n_grid=32), progress=False)
    bins = np.array([[9.8, 10.4], [10.4, 11.0]])
    model = make_forward_model(cat, bins, bins, None, rp_edges=np.logspace(-1, 1, 9), pi_max=12.0, dlogm=0.01,
                               progress=False)
    assert model.config.smhm == "shamnet"  # refined: the solver's linear systems run in every call
    grads = jax.vmap(jax.grad(lambda t: jnp.sum(model.kernel(t, model.tables)[0] ** 2)))
    theta = jnp.array([-1.835, -1.15, 10.54, 0.3, 0.25]) + 0.01 * jnp.arange(4)[:, None]
    mesh = Mesh(np.array(jax.devices()), ("chain",))
    sharded = jax.jit(jax.shard_map(grads, mesh=mesh, in_specs=P("chain"), out_specs=P("chain"), check_vma=False))
    got, ref = np.asarray(sharded(theta)), np.asarray(jax.jit(grads)(theta))
    assert np.all(np.isfinite(ref)) and np.abs(ref).max() > 0
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())
    print("equal")
""")


def test_refined_shamnet_runs_two_chains_a_device():
    """Two chains on each of two CPU devices through the refined SHAMNet: a batched LAPACK
    solve hung here (its worker waits on the XLA pool its own device occupies);
    ``diffsham.sham.linalg.solve`` avoids LAPACK on the CPU."""
    run = subprocess.run([sys.executable, "-c", REFINED_SCRIPT], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != "XLA_FLAGS"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("equal")


def test_device_settings_are_checked(tmp_path):
    import jax

    from diffsham.infer.devices import DevicesUnavailable, chain_mesh

    with pytest.raises(DevicesUnavailable, match=f"{len(jax.local_devices()) + 1} devices asked for, but this process "
                                                  f"has {len(jax.local_devices())}"):
        chain_mesh(len(jax.local_devices()) + 1, 4)
    with pytest.raises(ValueError, match="3 chains cannot be split evenly over 2 devices"):
        chain_mesh(2, 3)
    base = "[catalog]\nkind = 'synthetic'\n\n[[observables]]\nkind = 'smf'\nsm_bins = [[10.3, 10.4]]\ndata = 'x.txt'\n"
    for sampler, message in (("devices = 0", "devices must be a positive integer, got 0"),
                             ("chains = 4\ndevices = 3", "4 chains cannot be split evenly over 3 devices"),
                             ("method = 'numpyro-nuts'\ndevices = 2", "numpyro-nuts runs on one device")):
        path = tmp_path / "spec.toml"
        path.write_text(base + f"\n[sampler]\n{sampler}\n")
        with pytest.raises(SpecError, match=message):
            read_spec(path)
