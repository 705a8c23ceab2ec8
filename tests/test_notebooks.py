"""Every notebook runs, with the small settings ``DIFFSHAM_NOTEBOOK_FAST=1`` selects, so
none of them rots; and none is stored with outputs (they are stripped before commit).
The SDSS notebook reads the short SDSS run of conftest.py (and skips without the
published tables)."""
import glob
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOKS = sorted(glob.glob(os.path.join(HERE, "..", "notebooks", "*.ipynb")))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, monkeypatch, request):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("DIFFSHAM_NOTEBOOK_FAST", "1")
    if "sdss" in os.path.basename(path):
        monkeypatch.setenv("DIFFSHAM_SDSS_RUN", str(request.getfixturevalue("short_sdss_run")[2]))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path}: stored with outputs"
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(path)}})
    client.execute()  # raises CellExecutionError naming the cell that failed
