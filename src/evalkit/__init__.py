"""evalkit: evaluate the systemic child-protection practice model, site by site.

Submodules are imported on first use (``evalkit.survival``, ``evalkit.effects``
...) so that ``import evalkit`` stays cheap for the command line.
"""
from __future__ import annotations

import importlib
from typing import Any

from .result import EstimationError, EvalkitError, InputError, Result

__version__ = "0.1.0"

_SUBMODULES = {
    "schemas", "io", "validation", "idcode", "synth", "effects", "survival",
    "rates", "trends", "meta", "design", "site", "disclosure", "plots", "i18n",
    "render", "cli", "config", "exercises", "report", "stamp", "index",
}

__all__ = ["Result", "EvalkitError", "EstimationError", "InputError", "__version__", *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
