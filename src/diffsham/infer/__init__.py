"""Inference: likelihood specs (TOML), the NumPyro model, BlackJAX and NumPyro samplers,
checkpoints, ArviZ results, mocks."""
from .fit import fit, report
from .mock import make_mock, mock_covariance
from .posterior import Posterior, build_model, build_posterior
from .samplers import RunResult, SamplerStalled, run_sampler
from .spec import FitSpec, SpecError, parse_spec, read_spec

__all__ = ("fit", "report", "make_mock", "mock_covariance", "Posterior", "build_model", "build_posterior",
           "RunResult", "SamplerStalled", "run_sampler", "FitSpec", "SpecError", "parse_spec", "read_spec")
