"""The map from the samplers' unconstrained space onto a prior's bounded interval.

NumPyro's default for an interval is a logistic sigmoid. It bends every coordinate by a
different amount everywhere, so a straight, narrow ridge of the posterior (logphi, alpha
and logmc correlate at 0.96-0.99 here) becomes a curved one, which no single mass matrix
whitens: NUTS then needs small steps and long trees. A *soft clip* is linear over the
interior of the interval and saturates smoothly only near its ends, so the ridge stays
straight wherever the posterior has its mass, and the unconstrained density still has
exponential (logistic-like) tails that HMC handles.

With ``f(v) = [softplus(k (v + 1/2)) - softplus(k (v - 1/2))] / k``, a smooth bijection
of the real line onto (0, 1) with ``f(v) ~ v + 1/2`` for ``|v| < 1/2``,

    x = lo + (hi - lo) f(u / 4),

so ``u`` in (-2, 2) covers the interval with the logistic sigmoid's slope at the centre,
and the log-Jacobian falls by k/4 per unit of ``u`` beyond. The inverse is closed-form.

Priors on a bounded interval are built by :func:`bounded` with this support, so NumPyro's
``biject_to`` (the potential, the unconstrained start points, the draws' conversion)
uses the soft clip for them.
"""
import jax
from jax import numpy as jnp
from numpyro.distributions import Distribution, constraints
from numpyro.distributions.transforms import Transform, biject_to

__all__ = ("SHARPNESS", "SoftClipTransform", "bounded")

# k: over the central 80% of the interval the slope stays within 2% of the centre's; the
# walls' log-Jacobian has a curvature up to (k/4)^2/4 per unit u^2 (a width ~0.2 in u).
# On the default mock (4 x 500 draws, target 0.95, seeds 0 and 1) ESS per gradient was
# 0.111 and 0.156 at k = 40 against 0.056 and 0.024 with the logistic sigmoid
# (benchmarks/bench_unconstrained_map.py); k = 5, 10, 20 and 80 gave less (RESULTS.md).
# Sharper walls are stiffer.
SHARPNESS = 40.0
_SCALE = 4.0


class _SoftInterval(constraints._Interval):
    """An interval whose bijection from the real line is the soft clip."""


def _unit_clip(v, k):
    """f(v) on (0, 1), evaluated on the side where it does not cancel: f(v) = 1 - f(-v)."""
    a = -jnp.abs(v)
    low = (jax.nn.softplus(k * (a + 0.5)) - jax.nn.softplus(k * (a - 0.5))) / k
    return jnp.where(v < 0, low, 1.0 - low)


class SoftClipTransform(Transform):
    """u (real) -> x in (lo, hi); linear in the interior, logistic-like tails."""

    domain = constraints.real

    def __init__(self, lo, hi, sharpness=SHARPNESS):
        self.lo, self.hi, self.sharpness = lo, hi, sharpness
        self._codomain = _SoftInterval(lo, hi)

    @property
    def codomain(self):
        return self._codomain

    def __call__(self, u):
        return self.lo + (self.hi - self.lo) * _unit_clip(u / _SCALE, self.sharpness)

    def _inverse(self, x):
        k = self.sharpness
        p = (x - self.lo) / (self.hi - self.lo)
        # f = (1/k) log[(1 + a) / (1 + a e^-k)], a = e^{k (v + 1/2)}: solved for a
        log_a = jnp.log(jnp.expm1(k * p)) - jnp.log(-jnp.expm1(k * (p - 1.0)))
        return _SCALE * (log_a / k - 0.5)

    def log_abs_det_jacobian(self, u, x, intermediates=None):
        k, v = self.sharpness, u / _SCALE
        # f'(v) = (1 - e^-k) sigmoid(k (v + 1/2)) sigmoid(-k (v - 1/2))
        return (jnp.log((self.hi - self.lo) / _SCALE) + jnp.log(-jnp.expm1(-k))
                + jax.nn.log_sigmoid(k * (v + 0.5)) + jax.nn.log_sigmoid(-k * (v - 0.5)))

    def tree_flatten(self):
        return (self.lo, self.hi, self._codomain), (("lo", "hi", "_codomain"), {"sharpness": self.sharpness})

    def __eq__(self, other):
        return (isinstance(other, SoftClipTransform) and self.sharpness == other.sharpness
                and jnp.array_equal(self.lo, other.lo) and jnp.array_equal(self.hi, other.hi))


@biject_to.register(_SoftInterval)
def _soft_clip(constraint):
    return SoftClipTransform(constraint.lower_bound, constraint.upper_bound, SHARPNESS)


class bounded(Distribution):  # noqa: N801 -- reads as a constructor: bounded(Uniform(...), lo, hi)
    """``base`` (a distribution on [lo, hi]) with the soft clip as its unconstrained map.

    Sampling and densities are the base's; only the support's bijection differs.
    """

    def __init__(self, base, lo, hi):
        self.base, self.lo, self.hi = base, lo, hi
        self._support = _SoftInterval(lo, hi)
        super().__init__(batch_shape=base.batch_shape, event_shape=base.event_shape)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return self._support

    def sample(self, key, sample_shape=()):
        return self.base.sample(key, sample_shape)

    def log_prob(self, value):
        return self.base.log_prob(value)
