"""SHAMNet weights in HDF5, with the metadata a user needs to trust them.

Layout: groups ``layer_<i>`` with datasets ``W`` and ``b``; the root attributes hold
the training domain (theta_lo, theta_hi, logmh_lo, logmh_hi), ``version`` and a JSON
string ``metadata`` (architecture, training settings, validation metrics). Writes go
to a temporary file that replaces the target only when complete.
"""
import json
import os
from importlib import resources

import h5py
import numpy as np
from jax import numpy as jnp

from ..precision import enable_float64
from .network import ShamNet

__all__ = ("DEFAULT_SHAMNET_FILE", "save_shamnet", "load_shamnet")

DEFAULT_SHAMNET_FILE = "shamnet_v1.h5"
FORMAT_VERSION = 1


def save_shamnet(net, path):
    """Write a ShamNet to ``path`` (HDF5) atomically."""
    path = os.fspath(path)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        for i, (w, b) in enumerate(net.weights):
            g = f.create_group(f"layer_{i}")
            g.create_dataset("W", data=np.asarray(w))
            g.create_dataset("b", data=np.asarray(b))
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["n_layers"] = len(net.weights)
        f.attrs["theta_lo"] = np.asarray(net.theta_lo, dtype=float)
        f.attrs["theta_hi"] = np.asarray(net.theta_hi, dtype=float)
        f.attrs["logmh_lo"] = float(net.logmh_lo)
        f.attrs["logmh_hi"] = float(net.logmh_hi)
        f.attrs["metadata"] = json.dumps(net.metadata)
    os.replace(tmp, path)


def load_shamnet(path=None):
    """Load SHAMNet weights; without ``path``, the network shipped with the package.

    Parameters
    ----------
    path : str or path-like, optional

    Returns
    -------
    net : ShamNet
    """
    if path is None:
        ref = resources.files("diffsham.shamnet") / "data" / DEFAULT_SHAMNET_FILE
        with resources.as_file(ref) as p:
            return _read(p)
    return _read(path)


def _read(path):
    enable_float64()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"SHAMNet weights file not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"{path}: not a SHAMNet weights file of format version {FORMAT_VERSION} "
                    f"(found {f.attrs.get('format_version')})"
                )
            weights = []
            for i in range(int(f.attrs["n_layers"])):
                g = f.get(f"layer_{i}")
                if g is None or "W" not in g or "b" not in g:
                    raise ValueError(f"{path}: layer_{i} with datasets W and b is missing")
                weights.append((jnp.asarray(g["W"][...]), jnp.asarray(g["b"][...])))
            return ShamNet(
                weights=tuple(weights),
                theta_lo=np.asarray(f.attrs["theta_lo"]),
                theta_hi=np.asarray(f.attrs["theta_hi"]),
                logmh_lo=float(f.attrs["logmh_lo"]),
                logmh_hi=float(f.attrs["logmh_hi"]),
                metadata=json.loads(f.attrs["metadata"]),
            )
    except OSError as err:
        raise ValueError(f"{path}: cannot be read as HDF5 ({err})") from err
