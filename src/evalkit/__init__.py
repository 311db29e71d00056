"""evalkit: evaluate the systemic child-protection practice model, site by site.

Submodules are imported on first use (``evalkit.survival``, ``evalkit.effects``
...) so that ``import evalkit`` stays cheap for the command line.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import EstimationError, EvalkitError, InputError, Result

#: found in :mod:`evalkit.result` on first use too: pandas and scipy take a second to import, and a
#: Ctrl-C in that second must reach the command's own handler (:mod:`evalkit._entry`)
_RESULT_NAMES = {"Result", "EvalkitError", "EstimationError", "InputError"}

__version__ = "0.1.0"

_SUBMODULES = {
    "schemas", "io", "validation", "idcode", "synth", "effects", "survival",
    "rates", "trends", "meta", "design", "site", "disclosure", "plots", "i18n",
    "render", "cli", "config", "exercises", "report", "stamp", "index", "extract", "audit",
}

__all__ = ["Result", "EvalkitError", "EstimationError", "InputError", "__version__", *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _RESULT_NAMES:
        value = globals()[name] = getattr(importlib.import_module(".result", __name__), name)
        return value  # kept, so that tools reading the module's namespace (pdoc, dir()) find it next time
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
