"""evalkit: evaluate the systemic child-protection practice model, site by site.

The package is laid out by the data flow (``docs/ARCHITECTURE.md``):
``core`` (Result, identity codes, labels, disclosure) -> ``data`` (the
contract, reading, validation) and ``synth`` -> ``stats`` (the estimators)
-> ``site`` (one site's analysis plan) -> ``report`` (sections and
``plots``) -> ``render`` (the batch) -> ``cli``; ``exercises`` and
``datasets`` stand beside them.

The short names users know keep working: ``evalkit.survival`` is
``evalkit.stats.survival``, ``evalkit.validation`` is
``evalkit.data.validation``, and so on (:data:`SHORT_NAMES`). They are the
same module objects, imported on first use, so ``import evalkit`` stays
cheap for the command line.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.core.result import EstimationError, EvalkitError, InputError, Result

#: found in :mod:`evalkit.core.result` on first use too: pandas and scipy take a second to import, and
#: a Ctrl-C in that second must reach the command's own handler (:mod:`evalkit._entry`)
_RESULT_NAMES = {"Result", "EvalkitError", "EstimationError", "InputError"}

__version__ = "0.1.0"

#: the public short names and the module each one is
SHORT_NAMES = {
    "result": "core.result",
    "idcode": "core.idcode",
    "i18n": "core.i18n",
    "disclosure": "core.disclosure",
    "schemas": "data.schemas",
    "config": "data.config",
    "io": "data.io",
    "extract": "data.extract",
    "validation": "data.validation",
    "effects": "stats.effects",
    "survival": "stats.survival",
    "rates": "stats.rates",
    "trends": "stats.trends",
    "meta": "stats.meta",
    "design": "stats.design",
    "plots": "report.plots",
    "stamp": "report.stamp",
    "audit": "report.audit",
    "index": "render.index",
}
_ROOMS = {"core", "data", "synth", "stats", "site", "report", "render", "cli", "exercises", "datasets"}

__all__ = ["Result", "EvalkitError", "EstimationError", "InputError", "__version__", *sorted(_ROOMS | set(SHORT_NAMES))]


class _ShortNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import evalkit.survival`` gives the module ``evalkit.stats.survival`` itself (one object)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        head, _, short = fullname.partition(".")
        if head == __name__ and short in SHORT_NAMES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return importlib.import_module(f"{__name__}.{SHORT_NAMES[spec.name.partition('.')[2]]}")

    def exec_module(self, module: Any) -> None:
        """The module ran when it was imported under its own name."""


if not any(isinstance(f, _ShortNames) for f in sys.meta_path):
    sys.meta_path.append(_ShortNames())


def __getattr__(name: str) -> Any:
    if name in _RESULT_NAMES:
        value = globals()[name] = getattr(importlib.import_module(".core.result", __name__), name)
        return value  # kept, so that tools reading the module's namespace (pdoc, dir()) find it next time
    if name in SHORT_NAMES or name in _ROOMS:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
