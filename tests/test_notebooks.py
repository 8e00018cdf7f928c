"""The user notebooks (notebooks/*.ipynb) are stored without outputs and run top to bottom.

Each notebook is executed with nbclient in a fresh kernel whose working directory is notebooks/ (they read
data/ and bank_marketing.yaml from there); everything they write goes to a temporary folder named by
PRIVSYNTH_NOTEBOOK_RUNS, so a test run leaves nothing in the repository. The notebooks assert their own
lessons (a blocked run, then a released one; hashes that verify; a tampered copy that does not load).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import nbclient
import nbclient.exceptions
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT_S = 600


def test_the_four_notebooks_are_there():
    assert [p.name for p in ALL] == ["01_data_steward.ipynb", "02_compliance_review.ipynb", "03_analyst.ipynb",
                                   "04_person_level.ipynb"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} hold outputs or execution counts; clear them before "
                       "committing (jupyter nbconvert --clear-output --inplace, or Kernel > Restart & Clear Output)")


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PRIVSYNTH_NOTEBOOK_RUNS", str(tmp_path / "runs"))
    # scikit-learn's OpenMP threads spin-wait: on a busy 2-core machine one HistGradientBoosting fit went from
    # 0.7 s to 85 s with a thread per core; one thread keeps the notebooks' run time predictable
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    before = sorted(NOTEBOOKS.rglob("*"))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}", pytrace=False)
    print(f"{path.name}: {time.perf_counter() - start:.0f} s")
    assert sorted(NOTEBOOKS.rglob("*")) == before, f"{path.name} wrote into notebooks/"
