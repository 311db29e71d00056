"""Every notebook in notebooks/ runs for one small synthetic site, stays thin, and is paired with jupytext."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import jupytext
import nbformat
import pytest

from evalkit.io import write_dataset
from evalkit.synth import synthesise

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: the site report is package data (``evalkit render`` finds it in an installed evalkit); the others are
#: the researchers' thematic notebooks; 00_start_here has its own test
REPORT = Path(__file__).resolve().parents[1] / "src" / "evalkit" / "templates" / "site_report.py"
PAIRED = [*sorted(NOTEBOOKS.glob("[1-9]*.py")), REPORT]
PARAMETERS = {"site": str, "data_dir": str, "params_file": str, "lang": str, "out_dir": str, "config_json": str}
#: the report notebook alone can also write the unsuppressed results.json for researchers, outside OUT
EXTRA = {"site_report": {"researcher_dir": str}}


def test_every_report_notebook_is_there_and_paired():
    names = {p.stem for p in PAIRED}
    assert {
        "10_data_quality",
        "20_effects",
        "30_case_duration",
        "40_costs",
        "50_sick_leave",
        "60_workforce",
        "site_report",
    } <= names
    for py in PAIRED:
        ipynb = py.with_suffix(".ipynb")
        assert ipynb.exists(), f"{ipynb.name} missing: run jupytext --sync {py.name}"
        text, nb = jupytext.read(py), nbformat.read(ipynb, as_version=4)
        assert [c.source for c in text.cells] == [c.source for c in nb.cells], f"{py.name} and .ipynb differ"


@pytest.mark.parametrize("path", PAIRED, ids=lambda p: p.stem)
def test_notebooks_are_thin(path):
    cells = jupytext.read(path).cells
    assert cells[0].cell_type == "markdown" and "papermill" in cells[0].source
    params = cells[1]
    assert "parameters" in params.metadata.get("tags", [])
    tree = ast.parse(params.source)
    assigned = {node.target.id: node for node in tree.body if isinstance(node, ast.AnnAssign)}
    expected = {**PARAMETERS, **EXTRA.get(path.stem, {})}
    assert len(assigned) == len(tree.body) and set(assigned) == set(expected)
    assert all(
        isinstance(node.value, ast.Constant) and isinstance(node.value.value, expected[name])
        for name, node in assigned.items()
    )
    assert "report.load_config(" in cells[2].source
    for cell in cells[2:]:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                assert not isinstance(
                    node,
                    (
                        ast.FunctionDef,
                        ast.ClassDef,
                        ast.For,
                        ast.While,
                        ast.Lambda,
                        ast.ListComp,
                        ast.DictComp,
                        ast.GeneratorExp,
                    ),
                ), cell.source


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    synth = synthesise(sites=1, seed=5)
    return write_dataset(synth.tables, synth.meta, tmp_path_factory.mktemp("synthetic"))


@pytest.mark.slow
@pytest.mark.parametrize("path", PAIRED, ids=lambda p: p.stem)
def test_notebook_runs_for_one_synthetic_site(path, data_dir, tmp_path):
    import papermill as pm

    out_dir = tmp_path / "out"
    lang = "sv" if path.stem == "site_report" else "en"
    executed = tmp_path / path.with_suffix(".ipynb").name
    pm.execute_notebook(
        str(path.with_suffix(".ipynb")),
        str(executed),
        kernel_name="python3",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        parameters={"site": "kuopio", "data_dir": str(data_dir), "lang": lang, "out_dir": str(out_dir)},
    )
    nb = nbformat.read(executed, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("text/html" in o.get("data", {}) for o in outputs)
    if path.stem == "site_report":
        doc = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
        assert doc["site"] == "kuopio" and doc["stamp"]["params"]["lang"] == "sv" and doc["key_estimates"]
        html = "".join(o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {}))
        assert "Sammanfattning av resultaten" in html and "<img" in html
