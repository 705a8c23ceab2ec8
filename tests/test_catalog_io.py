"""Catalog readers and writer: round trips in each format, and clear errors on bad input."""
import h5py
import numpy as np
import pytest

from diffsham.catalog import (CatalogError, HaloCatalog, apply_mass_cut, read_catalog, read_halotools_cache,
                              read_hlist, validate_catalog, write_catalog)

LBOX = 50.0


def _columns(n=40, seed=0):
    rng = np.random.default_rng(seed)
    halo_id = rng.choice(10**9, size=n, replace=False).astype(np.int64)
    upid = np.full(n, -1, dtype=np.int64)
    upid[n // 2:] = halo_id[: n - n // 2]
    return dict(x=rng.random(n) * LBOX, y=rng.random(n) * LBOX, z=rng.random(n) * LBOX,
                vx=rng.normal(0, 300, n), vy=rng.normal(0, 300, n), vz=rng.normal(0, 300, n),
                mpeak=10 ** rng.uniform(10.5, 14.5, n), halo_id=halo_id, upid=upid)


def _halotools_columns(cols):
    return {(k if k.startswith("halo_") else "halo_" + k): v for k, v in cols.items()}


def _write_table(path, cols):
    """A minimal halotools-style file: a compound table at 'data' and the Lbox attribute."""
    arr = np.zeros(len(cols["halo_x"]), dtype=[(k, v.dtype) for k, v in cols.items()])
    for k, v in cols.items():
        arr[k] = v
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=arr)
        f.attrs["Lbox"] = LBOX


def _catalog(cols):
    return validate_catalog(HaloCatalog(
        x=cols["x"], y=cols["y"], z=cols["z"], vx=cols["vx"], vy=cols["vy"], vz=cols["vz"],
        logmpeak=np.log10(cols["mpeak"]), halo_id=cols["halo_id"], upid=cols["upid"],
        host_id=np.where(cols["upid"] == -1, cols["halo_id"], cols["upid"]), lbox=LBOX, redshift=0.1,
        cosmology=dict(Om0=0.3, h=0.7), source="test"))


def test_native_round_trip_with_profiles(tmp_path):
    cat = _catalog(_columns())
    edges = np.logspace(-1, 1, 5)
    ds = np.random.default_rng(1).random((cat.n_halos, 4))
    cat = cat.with_delta_sigma(ds, edges, "test profiles")
    path = tmp_path / "cat.h5"
    write_catalog(path, cat)
    back = read_catalog(path)
    for name in ("x", "y", "z", "vx", "vy", "vz", "logmpeak", "halo_id", "upid", "host_id"):
        np.testing.assert_array_equal(getattr(back, name), getattr(cat, name))
    np.testing.assert_array_equal(back.delta_sigma, ds)
    np.testing.assert_array_equal(back.delta_sigma_rp_edges, edges)
    assert (back.lbox, back.redshift, back.cosmology, back.delta_sigma_method) == (LBOX, 0.1, dict(Om0=0.3, h=0.7),
                                                                                  "test profiles")
    assert not (tmp_path / "cat.h5.tmp").exists()


def test_halotools_cache_written_by_astropy_is_read(tmp_path):
    astropy_table = pytest.importorskip("astropy.table")
    cols = _columns()
    table = astropy_table.Table(_halotools_columns(cols))
    table["halo_mvir"] = cols["mpeak"] * 0.8
    path = str(tmp_path / "hlist_halotools.hdf5")
    table.write(path, path="data", serialize_meta=True)
    with h5py.File(path, "a") as f:  # the attributes halotools' cache writer sets
        f.attrs["Lbox"] = LBOX
        f.attrs["redshift"] = "0.1000"
        f.attrs["particle_mass"] = 1.35e8
        f.attrs["simname"] = "fake"
    cat = read_halotools_cache(path)
    np.testing.assert_allclose(cat.logmpeak, np.log10(cols["mpeak"]), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(cat.halo_id, cols["halo_id"])
    np.testing.assert_array_equal(cat.x, cols["x"])
    assert cat.lbox == LBOX and cat.redshift == pytest.approx(0.1)
    assert np.sum(cat.is_host) == np.sum(cols["upid"] == -1)
    mvir = read_halotools_cache(path, mass_column="halo_mvir")
    np.testing.assert_allclose(mvir.logmpeak, np.log10(cols["mpeak"] * 0.8))
    with pytest.raises(CatalogError, match="missing columns.*halo_macc"):
        read_halotools_cache(path, mass_column="halo_macc")


def _write_hlist(path, cols, box_line=True, truncate=False):
    names = ["scale", "id", "desc_scale", "desc_id", "num_prog", "pid", "upid", "desc_pid", "phantom",
             "sam_mvir", "mvir", "rvir", "rs", "vrms", "mmp?", "scale_of_last_MM", "vmax", "x", "y", "z",
             "vx", "vy", "vz", "Mpeak"]
    n = cols["x"].size
    data = {name: np.zeros(n) for name in names}
    data.update(scale=np.full(n, 1 / 1.1), id=cols["halo_id"], upid=cols["upid"], pid=cols["upid"],
                mvir=cols["mpeak"] * 0.9, x=cols["x"], y=cols["y"], z=cols["z"], vx=cols["vx"], vy=cols["vy"],
                vz=cols["vz"], Mpeak=cols["mpeak"])
    with open(path, "w") as f:
        f.write("#" + " ".join(f"{name}({i})" for i, name in enumerate(names)) + "\n")
        f.write("#a = 0.909091\n")
        f.write("#Omega_M = 0.307115; Omega_L = 0.692885; h0 = 0.677700\n")
        if box_line:
            f.write(f"#Full box size = {LBOX:.6f} Mpc/h\n")
        f.write("#Scale: Scale factor of halo.\n")
        for row in range(n):
            line = []
            for name in names:
                v = data[name][row]
                line.append(f"{int(v)}" if name in ("id", "upid", "pid") else f"{v:.10e}")
            if truncate and row == n - 1:
                line = line[:10]
            f.write(" ".join(line) + "\n")


def test_hlist_round_trip(tmp_path):
    cols = _columns()
    path = tmp_path / "hlist_0.90909.list"
    _write_hlist(path, cols)
    cat = read_hlist(path)
    np.testing.assert_allclose(cat.logmpeak, np.log10(cols["mpeak"]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(cat.x, cols["x"], rtol=1e-10)
    np.testing.assert_array_equal(cat.upid, cols["upid"])
    assert cat.lbox == LBOX and cat.redshift == pytest.approx(0.1)
    assert cat.cosmology["Om0"] == pytest.approx(0.307115) and cat.cosmology["h"] == pytest.approx(0.6777)


def test_hlist_errors(tmp_path):
    cols = _columns()
    path = tmp_path / "trunc.list"
    _write_hlist(path, cols, truncate=True)
    with pytest.raises(CatalogError, match="trunc.list: line 45 has 10 fields, the header names 24"):
        read_hlist(path)
    path = tmp_path / "nobox.list"
    _write_hlist(path, cols, box_line=False)
    with pytest.raises(CatalogError, match="Full box size"):
        read_hlist(path)
    assert read_hlist(path, lbox=LBOX).n_halos == cols["x"].size
    with pytest.raises(CatalogError, match="missing columns.*Macc"):
        read_hlist(path, lbox=LBOX, mass_column="Macc")
    with pytest.raises(CatalogError, match="no such file"):
        read_hlist(tmp_path / "absent.list")


@pytest.mark.parametrize("problem, match", [
    ("nan", "column 'vy' has 1 NaN"),
    ("outside", "positions in column 'x' lie outside"),
    ("mass", "not positive and finite"),
    ("duplicate", "duplicate ids"),
    ("missing", r"missing columns \['halo_z'\]"),
])
def test_bad_halotools_input_is_named(tmp_path, problem, match):
    cols = _halotools_columns(_columns())
    if problem == "nan":
        cols["halo_vy"][3] = np.nan
    elif problem == "outside":
        cols["halo_x"][5] = LBOX + 1.0
    elif problem == "mass":
        cols["halo_mpeak"][2] = 0.0
    elif problem == "duplicate":
        cols["halo_id"][7] = cols["halo_id"][8]
    elif problem == "missing":
        del cols["halo_z"]
    path = str(tmp_path / f"{problem}.hdf5")
    _write_table(path, cols)
    with pytest.raises(CatalogError, match=match) as err:
        read_halotools_cache(path)
    assert path in str(err.value)


def test_wrap_is_explicit(tmp_path):
    cols = _halotools_columns(_columns())
    cols["halo_x"][0] = LBOX  # finders sometimes write the upper edge
    path = str(tmp_path / "edge.hdf5")
    _write_table(path, cols)
    with pytest.raises(CatalogError, match="outside"):
        read_halotools_cache(path)
    assert read_halotools_cache(path, wrap=True).x[0] == 0.0


def test_truncated_and_foreign_hdf5(tmp_path):
    cat = _catalog(_columns())
    path = tmp_path / "cat.h5"
    write_catalog(path, cat)
    raw = path.read_bytes()
    (tmp_path / "cut.h5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CatalogError, match="cut.h5: unreadable or truncated"):
        read_catalog(tmp_path / "cut.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("data", data=np.arange(3))
    with pytest.raises(CatalogError, match="not a diffsham catalog"):
        read_catalog(tmp_path / "other.h5")
    with pytest.raises(CatalogError, match="no such file"):
        read_catalog(tmp_path / "absent.h5")


def test_mass_cut_is_explicit_and_profiles_follow():
    cat = _catalog(_columns())
    cat = cat.with_delta_sigma(np.arange(cat.n_halos * 2.0).reshape(-1, 2), [0.1, 1.0, 10.0], "t")
    cut = apply_mass_cut(cat, 12.0)
    keep = cat.logmpeak >= 12.0
    assert cut.n_halos == keep.sum() and "log Mpeak >= 12" in cut.source
    np.testing.assert_array_equal(cut.delta_sigma, cat.delta_sigma[keep])


def test_inconsistent_host_id_and_profile_shape():
    cat = _catalog(_columns())
    from dataclasses import replace

    bad = replace(cat, host_id=cat.host_id + 1)
    with pytest.raises(CatalogError, match="host_id"):
        validate_catalog(bad)
    with pytest.raises(CatalogError, match="delta_sigma has shape"):
        cat.with_delta_sigma(np.zeros((3, 2)), [0.1, 1.0, 10.0], "t")


def test_implausible_masses_and_empty_catalogs_are_refused(tmp_path):
    """log Mpeak outside [6, 17] (linear masses, masses in 1e10 Msun/h) and zero-halo
    files are errors naming the column, in every reader."""
    cols = _columns()
    for mpeak, hint in ((np.log10(cols["mpeak"]), "linear"), (cols["mpeak"] * 1e10, "outside the plausible range")):
        path = tmp_path / "bad.list"
        _write_hlist(path, dict(cols, mpeak=mpeak))
        with pytest.raises(CatalogError, match=f"logmpeak.*{hint}"):
            read_hlist(path)
    cat = _catalog(cols)
    from dataclasses import replace

    with pytest.raises(CatalogError, match="linear masses"):
        validate_catalog(replace(cat, logmpeak=10 ** cat.logmpeak))
    path = tmp_path / "h.hdf5"
    _write_table(str(path), _halotools_columns(dict(cols, mpeak=np.log10(cols["mpeak"]))))
    with pytest.raises(CatalogError, match="h.hdf5: column 'logmpeak'"):
        read_halotools_cache(path)
    empty = {k: v[:0] for k, v in cols.items()}
    path = tmp_path / "empty.list"
    _write_hlist(path, empty)
    with pytest.raises(CatalogError, match="no data rows|no halos"):
        read_hlist(path)
    with pytest.raises(CatalogError, match="holds no halos"):
        validate_catalog(replace(cat, **{c: getattr(cat, c)[:0] for c in ("x", "y", "z", "vx", "vy", "vz", "logmpeak",
                                                                         "halo_id", "upid", "host_id")}))
    with pytest.raises(CatalogError, match="no halo has log Mpeak >= 16"):
        apply_mass_cut(cat, 16.0)


def test_hlist_rows_with_extra_fields_are_an_error(tmp_path):
    cols = _columns()
    path = tmp_path / "extra.list"
    _write_hlist(path, cols)
    lines = path.read_text().splitlines()
    lines[7] += " 1.0 2.0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CatalogError, match="extra.list: line 8 has 26 fields, the header names 24"):
        read_hlist(path)
