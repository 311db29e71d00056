"""Build evalkit's API reference (HTML) from the docstrings with pdoc; fail on any warning.

Usage, from the repository root with the virtual environment active::

    python docs/build.py                 # writes docs/_build/
    python docs/build.py --out DIR       # anywhere else

Exit status 0: built without warnings; 1: warnings (listed on stderr; the
pages are still written, to look at); 2: the build itself failed.

pdoc rather than Sphinx or mkdocs: it needs no configuration beyond this
script, reads numpydoc docstrings, and takes the modules as they import.
Every public module is named explicitly (pdoc would otherwise follow the
package's ``__all__``, which lists only the lazily imported submodules), and
the landing page is ``docs/index.md`` instead of pdoc's redirect.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
import sys
import warnings
from pathlib import Path

import pdoc
import pdoc.doc
import pdoc.extract
import pdoc.render
from pdoc.render_helpers import to_html

HERE = Path(__file__).resolve().parent
PACKAGE = "evalkit"


def public_modules() -> list[str]:
    """``evalkit`` and every module of its rooms whose name does not start with an underscore."""
    pkg = importlib.import_module(PACKAGE)
    for name in pkg.__all__:  # the lazily loaded names (Result, the submodules) into the namespace pdoc reads
        getattr(pkg, name)
    subs = [
        m.name
        for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{PACKAGE}.")
        if not any(part.startswith("_") for part in m.name.split(".")) and ".templates" not in m.name
    ]
    return sorted({PACKAGE, *subs})


def _specs(modules: list[str]) -> list[str]:
    """The package, plus the public modules pdoc's walk of it (by ``__all__``) leaves out."""
    walked = set(pdoc.extract.walk_specs([PACKAGE]))
    return [PACKAGE, *(m for m in modules if m not in walked)]


def borrowed_docstring(var: pdoc.doc.Doc) -> bool:
    """True where an attribute's docstring is just its value's class docstring from another package."""
    if var.kind != "variable":
        return False
    owner = importlib.import_module(var.modulename)
    *path, name = var.qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    cls = type(inspect.getattr_static(owner, name, None))
    return not cls.__module__.startswith(PACKAGE) and var.docstring == inspect.cleandoc(cls.__doc__ or "")


def landing_html(modules: list[str]) -> str:
    """``docs/index.md`` as HTML, each `evalkit.<module>` in code quotes linked to its page."""
    text = (HERE / "index.md").read_text(encoding="utf-8")
    known = set(modules)

    def link(match: re.Match) -> str:
        name = match.group(1)
        return f"[`{name}`]({name.replace('.', '/')}.html)" if name in known else match.group(0)

    return to_html(re.sub(r"`(evalkit(?:\.\w+)*)`", link, text))


def build(out: Path) -> list[str]:
    """Write the HTML reference into ``out``; return the warnings raised while building."""
    modules = public_modules()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.render.configure(
            docformat="numpy",
            template_directory=HERE / "templates",
            footer_text=f"{PACKAGE} {importlib.import_module(PACKAGE).__version__}",
        )
        pdoc.render.env.globals["landing"] = landing_html(modules)
        pdoc.render.env.globals["borrowed_docstring"] = borrowed_docstring
        pdoc.pdoc(*_specs(modules), output_directory=out)
    return [f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})" for w in caught]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "_build", help="output folder (default docs/_build)")
    args = parser.parse_args(argv)
    try:
        found = build(args.out)
    except Exception as exc:  # noqa: BLE001 - report any failure as a failed build, with its cause
        print(f"docs build failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    for line in found:
        print(f"warning: {line}", file=sys.stderr)
    print(f"{'FAILED with ' + str(len(found)) + ' warning(s)' if found else 'built'}: {args.out / 'index.html'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
