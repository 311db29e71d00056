"""notebooks/00_start_here runs top to bottom under papermill, draws its figures and stays thin."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
from jupytext.magics import comment_magic
import nbformat
import pandas as pd
import pytest

from evalkit.io import write_dataset
from evalkit.synth import synthesise

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PY = NOTEBOOKS / "00_start_here.py"
IPYNB = NOTEBOOKS / "00_start_here.ipynb"
PARAMETERS = {"data_dir": str, "site": str, "other_site": str, "seed": int}
#: identifiers of the synthetic data (cases, children, workers, respondents, teams): never shown
IDENTIFIER = re.compile(r"\b(?:[CL]\d{6}|W\d{5}|R\d{6}|[a-z]+_[pc]\d+)\b")
LOGIC = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.For,
    ast.While,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _execute(tmp_path: Path, **parameters) -> nbformat.NotebookNode:
    import papermill as pm

    out = tmp_path / "start_here.ipynb"
    pm.execute_notebook(
        str(IPYNB), str(out), kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False, parameters=parameters
    )
    return nbformat.read(out, as_version=4)


def _outputs(nb: nbformat.NotebookNode) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _shown_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for o in _outputs(nb):
        parts.append(o.get("text", ""))
        parts += [v for k, v in o.get("data", {}).items() if k in ("text/plain", "text/html")]
    return "\n".join(parts)


def test_paired_and_thin():
    cells = jupytext.read(PY).cells
    assert [c.source for c in cells] == [c.source for c in nbformat.read(IPYNB, as_version=4).cells], (
        "00_start_here.py and .ipynb differ: run jupytext --sync notebooks/00_start_here.py"
    )
    assert cells[0].cell_type == "markdown" and "papermill" in cells[0].source
    assert "parameters" in cells[1].metadata.get("tags", [])
    tree = ast.parse(cells[1].source)
    assert all(isinstance(n, ast.AnnAssign) for n in tree.body)
    assert {n.target.id: type(n.value.value) for n in tree.body} == PARAMETERS
    assert "evalkit.validation.validate(" in cells[2].source
    for cell in cells[2:]:
        if cell.cell_type == "code":
            source = comment_magic(cell.source.splitlines())
            assert not [n for n in ast.walk(ast.parse("\n".join(source))) if isinstance(n, LOGIC)], cell.source


def test_one_estimator_of_each_family():
    code = "\n".join(c.source for c in jupytext.read(PY).cells if c.cell_type == "code")
    for call in (
        "evalkit.survival.km(",
        "evalkit.survival.cox(",
        "evalkit.site.analyse(",
        "evalkit.rates.",
        "evalkit.trends.its(",
        "evalkit.meta.pool(",
        "evalkit.design.mde(",
        "evalkit.plots.km_curves(",
        "evalkit.plots.rates_by_arm(",
        "evalkit.plots.its_plot(",
        "evalkit.plots.forest(",
    ):
        assert call in code, call


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> nbformat.NotebookNode:
    return _execute(tmp_path_factory.mktemp("start_default"))


@pytest.mark.slow
def test_runs_on_synthetic_data_with_figures_and_no_errors(default_run):
    outputs = _outputs(default_run)
    assert [o.get("ename") for o in outputs if o.output_type == "error"] == []
    figure_cells = [c for c in default_run.cells if c.cell_type == "code" and "evalkit.plots." in c.source]
    assert len(figure_cells) == 4
    for cell in figure_cells:
        assert [o for o in cell.outputs if "image/png" in o.get("data", {})], cell.source
    html = "".join(o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {}))
    assert "Validation: valid" in html  # the report rendered as HTML, not as a repr string
    assert "Cox PH" in html and "Interrupted time series" in html


@pytest.mark.slow
def test_prints_no_identifier(default_run):
    assert IDENTIFIER.findall(_shown_text(default_run)) == []


@pytest.mark.slow
def test_own_folder_with_invalid_rows(tmp_path):
    synth = synthesise(sites=2, seed=3)
    cases = synth.tables["cases"].copy()
    # one case closed before it opened: it and its placements and contacts are quarantined
    row = cases["closed"].notna().idxmax()
    cases.loc[row, "closed"] = cases.loc[row, "opened"] - pd.Timedelta(days=30)
    folder = write_dataset({**synth.tables, "cases": cases}, synth.meta, tmp_path / "own")
    nb = _execute(tmp_path, data_dir=str(folder), seed=3)
    outputs = _outputs(nb)
    assert [o.get("ename") for o in outputs if o.output_type == "error"] == []
    text = _shown_text(nb)
    assert "invalid rows quarantined" in text and "closed_before_opened" in text
    assert IDENTIFIER.findall(text) == []
