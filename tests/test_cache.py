"""The cache folder and the tabulation cache: resolved in one place, checked on load,
rebuilt (with a warning) when bad, never sticky; orphans of killed builds removed."""
import os
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

from diffsham.cache import atomic_tmp_path, resolve_cache_dir
from diffsham.catalog import SyntheticConfig, make_synthetic_catalog
from diffsham.stats.tabulate import load_or_tabulate

RP_EDGES = np.logspace(-1, 0.5, 5)
PI_MAX = 6.0


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSHAM_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(tmp_path / "arg") == str(tmp_path / "arg")
    assert resolve_cache_dir() == str(tmp_path / "env")
    monkeypatch.delenv("DIFFSHAM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_cache_dir() == str(tmp_path / "xdg" / "diffsham")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert resolve_cache_dir() == str(tmp_path / "home" / ".cache" / "diffsham")


@pytest.fixture(scope="module")
def catalog():
    return make_synthetic_catalog(SyntheticConfig(lbox=30.0, logmpeak_min=11.5, seed=2, n_grid=16), progress=False)


def _only_file(folder):
    files = [f for f in os.listdir(folder) if f.endswith(".h5")]
    assert len(files) == 1, files
    return os.path.join(folder, files[0])


def test_bad_cache_files_are_rebuilt_never_used(catalog, tmp_path):
    tab = load_or_tabulate(catalog, RP_EDGES, PI_MAX, cache_dir=tmp_path, progress=False)
    path = _only_file(tmp_path)
    assert load_or_tabulate(catalog, RP_EDGES, PI_MAX, cache_dir=tmp_path, progress=False).key == tab.key

    def corrupt(edit):
        with h5py.File(path, "a") as f:
            edit(f)

    def scale(f):
        f["p0"][...] = 2.0 * f["p0"][...]

    def one_nan(f):
        a = f["s1"][...]
        a[0] = np.nan
        f["s1"][...] = a

    def drop(f):
        del f["p11"]

    def reshape(f):
        del f["n"]
        f.create_dataset("n", data=np.zeros(3))

    for edit, why in ((scale, "checksum"), (one_nan, "checksum"), (drop, "p11"), (reshape, "checksum")):
        corrupt(edit)
        with pytest.warns(UserWarning, match=why):
            again = load_or_tabulate(catalog, RP_EDGES, PI_MAX, cache_dir=tmp_path, progress=False)
        np.testing.assert_array_equal(again.p0, tab.p0)
        np.testing.assert_array_equal(again.p11, tab.p11)
        with warnings.catch_warnings():  # rebuilt: the next load is clean
            warnings.simplefilter("error")
            load_or_tabulate(catalog, RP_EDGES, PI_MAX, cache_dir=tmp_path, progress=False)
    with open(path, "wb") as f:
        f.write(b"not hdf5")
    with pytest.warns(UserWarning, match="unreadable"):
        load_or_tabulate(catalog, RP_EDGES, PI_MAX, cache_dir=tmp_path, progress=False)


def test_orphan_tmp_files_of_killed_builds_are_removed(catalog, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"tabulation_x.h5.{int(dead.stdout)}.tmp"
    legacy = tmp_path / "tabulation_y.h5.tmp"
    alive = tmp_path / f"tabulation_z.h5.{os.getppid()}.tmp"  # a running writer's file is left alone
    for f in (orphan, legacy, alive):
        f.write_bytes(b"x" * 1000)
    load_or_tabulate(catalog, RP_EDGES, PI_MAX, cache_dir=tmp_path, progress=False)
    assert not orphan.exists() and not legacy.exists() and alive.exists()
    assert atomic_tmp_path("/a/b.h5") == f"/a/b.h5.{os.getpid()}.tmp"
