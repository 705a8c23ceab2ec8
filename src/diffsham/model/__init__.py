"""The forward model: theta -> predicted data vector (SMF, wp, DeltaSigma in stellar-mass bins).

``make_forward_model(cat, smf_bins, wp_bins, ds_bins, config=ModelConfig(...))`` builds,
once per catalog and binning, the tables of the chosen estimator path and a pure
kernel; ``ForwardModel.predict`` is the checked public entry (see ``forward``).
"""
from .config import DEFAULT_PI_MAX, DEFAULT_RP_EDGES, ModelConfig
from .core import ModelInfo, ModelTables
from .domain import DomainError, box_corners, box_edge_midpoints, check_supported_domain, in_supported_domain
from .forward import SMHM_LOGMPEAK_RANGE, ForwardModel, make_forward_model
from .layout import Block, Layout

__all__ = (
    "ModelConfig", "DEFAULT_RP_EDGES", "DEFAULT_PI_MAX", "ModelInfo", "ModelTables", "DomainError",
    "check_supported_domain", "in_supported_domain", "box_corners", "box_edge_midpoints", "ForwardModel", "make_forward_model", "SMHM_LOGMPEAK_RANGE",
    "Block", "Layout",
)
