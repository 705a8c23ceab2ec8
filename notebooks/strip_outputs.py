"""Clear every notebook's outputs and execution counts in place (they are stored without)."""
import glob
import os

import nbformat

for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "*.ipynb"))):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, path)
