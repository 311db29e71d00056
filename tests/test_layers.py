"""The package's layers (docs/ARCHITECTURE.md), enforced: a module imports only from its own room's layer or below.

The folders are the rooms of the data flow; each room belongs to a layer.
Imports are read from the source with ``ast`` (also those inside
functions), so a lazy import cannot slip past. Inside the package, modules
import each other by their room path (``evalkit.stats.survival``), never by
the short names kept for users (``evalkit.survival``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import evalkit

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "evalkit"

#: bottom up; a room may import from its own layer and those listed before it
LAYERS: dict[str, set[str]] = {
    "core": {"core", "datasets"},
    "data": {"data", "synth"},
    "stats": {"stats"},
    "site": {"site"},
    "report": {"report", "exercises"},
    "render": {"render"},
    "cli": {"cli"},
}
#: the package's own top-level files: the lazy namespace, and the command's entry points
TOP = {"__init__": "core", "__main__": "cli", "_entry": "cli"}
#: the statistics use nothing of the data layer either: they take DataFrames and column names
STATISTICS_MAY_USE = {"core", "stats"}


def _room(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else TOP[path.stem]


def _layer(room: str) -> str:
    found = [name for name, rooms in LAYERS.items() if room in rooms]
    assert found, f"room {room} is in no layer: add it to LAYERS here and to docs/ARCHITECTURE.md"
    return found[0]


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)


def _imported_rooms(path: Path) -> set[str]:
    """The rooms a module imports from (``from evalkit.x... import`` and ``import evalkit.x...``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.relative_to(PACKAGE)}: a relative import; use evalkit.<room>..."
            if node.module == "evalkit":
                names = [f"evalkit.{a.name}" for a in node.names]
            elif (node.module or "").startswith("evalkit."):
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("evalkit.")]
        for name in names:
            head = name.split(".")[1]
            found.add(TOP["__init__"] if head == "__version__" else TOP.get(head, head))
    return found


def test_every_folder_is_a_room_with_a_layer():
    rooms = {_room(p) for p in _modules()}
    assert rooms == {"core", "data", "synth", "stats", "site", "report", "render", "cli", "exercises", "datasets"}
    for room in rooms:
        _layer(room)


def test_no_module_imports_from_a_layer_above_its_own():
    order = list(LAYERS)
    upward = []
    for path in _modules():
        own = _layer(_room(path))
        for room in _imported_rooms(path) - {_room(path)}:
            if room in evalkit.SHORT_NAMES:
                upward.append(f"{path.relative_to(PACKAGE)} imports the short name evalkit.{room}")
            elif order.index(_layer(room)) > order.index(own):
                upward.append(f"{path.relative_to(PACKAGE)} ({own}) imports from {room} ({_layer(room)})")
    assert upward == []


def test_statistics_take_dataframes_and_know_nothing_of_data_files_or_sites():
    wrong = [
        f"{p.relative_to(PACKAGE)} imports from {room}"
        for p in _modules()
        if _room(p) == "stats"
        for room in _imported_rooms(p)
        if _layer(room) not in STATISTICS_MAY_USE
    ]
    assert wrong == []


def test_command_line_code_lives_in_cli_only():
    # typer and rich's console are the terminal's; the rooms below hand results back instead of printing them
    wrong = []
    for path in _modules():
        if _room(path) in ("cli",) or path.stem in TOP:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                wrong += [f"{path.relative_to(PACKAGE)} imports {m}" for m in mods if m.split(".")[0] == "typer"]
    assert wrong == []


def test_the_short_names_are_the_room_modules_themselves():
    import importlib

    for short, full in evalkit.SHORT_NAMES.items():
        assert importlib.import_module(f"evalkit.{short}") is importlib.import_module(f"evalkit.{full}")
        assert getattr(evalkit, short) is importlib.import_module(f"evalkit.{full}")


def test_a_private_module_is_used_only_inside_its_own_room():
    # a room's private helpers (_km, _sections, _kernel ...) are its own; other rooms use what it exports
    wrong = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("evalkit"):
                continue
            for alias in node.names:
                parts = [*node.module.split("."), alias.name][1:]
                if not any(p.startswith("_") and not p.startswith("__") for p in parts):
                    continue
                owner = TOP.get(parts[0], parts[0])
                if owner != _room(path):
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {node.module}.{alias.name}")
    assert wrong == []
