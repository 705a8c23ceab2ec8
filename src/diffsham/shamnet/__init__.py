"""SHAMNet: a smooth neural network for the stellar-to-halo mass relation of SHAM."""
from .network import (
    ShamNet,
    shamnet_mean_log_sm,
    shamnet_mean_log_sm_and_jacobian,
    shamnet_mean_log_sm_on_grid,
)
from .io import load_shamnet, save_shamnet

__all__ = (
    "ShamNet",
    "shamnet_mean_log_sm",
    "shamnet_mean_log_sm_and_jacobian",
    "shamnet_mean_log_sm_on_grid",
    "load_shamnet",
    "save_shamnet",
)
