"""The package's layers (docs/ARCHITECTURE.md), enforced: a module imports only from its own layer or below.

Read from the source with ``ast`` (every ``from . import`` and ``from .x
import``, also inside functions), so a lazy import cannot slip past.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "evalkit"

#: bottom up; a module may import from its own layer and those listed before it
LAYERS: dict[str, set[str]] = {
    "base": {"__init__", "result", "_table", "idcode", "i18n", "disclosure"},
    "data": {"schemas", "config", "io", "extract", "_extract_inspect", "_rules", "validation", "synth",
             "_synth_cases", "_synth_export", "_synth_sites", "_synth_staff", "_synth_stress", "_synth_surveys"},
    "statistics": {"effects", "survival", "rates", "trends", "meta", "design", "_ols", "_crve", "_glm", "_gls",
                   "_lmm", "_km", "_coxph", "_cmprsk", "_finegray", "_rmst", "_wild", "_staggered",
                   "_effect_sizes"},
    "site": {"site", "_site_costs", "_site_design", "_site_duration", "_site_sick_leave"},
    "report": {"plots", "_plots_base", "_plots_effects", "_plots_survival", "_plots_workforce", "report",
               "_report_html", "_report_sections", "_report_text", "stamp", "audit", "exercises"},
    # the batch: its manifest, the index page over its sites, the kernels
    "render": {"render", "index", "_render_files", "_render_html", "_render_kernel", "_render_params",
               "_render_warm"},
    "cli": {"cli", "__main__", "_entry", "_console", "_render_cli"},
}
#: the statistics use nothing of the data layer either: they take DataFrames and column names
STATISTICS_MAY_USE = {"base", "statistics"}
#: known crossings, each to be removed when the command-line code leaves the data layer (issue 15);
#: the list may only shrink
KNOWN = {("validation", "_console")}


def _layer_of(module: str) -> str:
    for name, members in LAYERS.items():
        if module in members:
            return name
    raise AssertionError(f"{module} is in no layer: add it to LAYERS here and to docs/ARCHITECTURE.md")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("evalkit."):
            found.add(node.module.split(".")[1])
    return found - {"__version__", path.stem}


def test_every_module_has_a_layer():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == set().union(*LAYERS.values()), "LAYERS and the package's modules differ"


def test_no_module_imports_from_a_layer_above_its_own():
    order = list(LAYERS)
    upward = []
    for path in sorted(PACKAGE.glob("*.py")):
        own = order.index(_layer_of(path.stem))
        for target in _imports(path):
            if order.index(_layer_of(target)) > own and (path.stem, target) not in KNOWN:
                upward.append(f"{path.stem} ({order[own]}) imports {target} ({_layer_of(target)})")
    assert upward == []


def test_statistics_take_dataframes_and_know_nothing_of_data_files_or_sites():
    wrong = [f"{p.stem} imports {t}" for p in sorted(PACKAGE.glob("*.py")) if _layer_of(p.stem) == "statistics"
             for t in _imports(p) if _layer_of(t) not in STATISTICS_MAY_USE]
    assert wrong == []


def test_the_known_crossings_still_exist():
    # a crossing that is gone must leave KNOWN too, so that it cannot come back unnoticed
    assert all(target in _imports(PACKAGE / f"{module}.py") for module, target in KNOWN)
