"""Reproducibility stamp and ``results.json``: what produced a report, and its numbers.

The stamp names the dataset and its content hash, the schema version, the
versions of evalkit and its key packages, the parameters and the render
time, so a reader can tell whether two reports came from the same inputs.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

__all__ = ["KEY_PACKAGES", "dataset_hash", "make_stamp", "results_document", "write_results"]

KEY_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "lifelines", "pingouin", "pandera", "papermill")


def dataset_hash(folder: str | Path) -> str:
    """SHA-256 over the names and bytes of every file of a dataset folder (sorted)."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".")):
        h.update(path.name.encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def make_stamp(meta: Mapping[str, Any], content_hash: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The stamp of one report (no machine paths: only names, hashes and versions).

    Examples
    --------
    >>> s = make_stamp({"name": "demo"}, "ab" * 32, {"site": "kuopio"})
    >>> print(s["dataset"]["name"], len(s["dataset"]["sha256"]))
    demo 64
    """
    from . import __version__
    from .schemas import SCHEMA_VERSION

    return {
        "dataset": {"name": str(meta.get("name", "")), "sha256": content_hash,
                    "extracted_on": str(meta.get("extracted_on", ""))},
        "schema_version": SCHEMA_VERSION,
        "evalkit": __version__,
        "packages": {p: _version(p) for p in KEY_PACKAGES},
        "params": dict(params),
        "rendered_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def results_document(site_results: Any, stamp: Mapping[str, Any]) -> dict[str, Any]:
    """The content of ``results.json``: stamp, key estimates, every Result, skipped analyses."""
    key = site_results.key_estimates()
    return {
        "site": site_results.site,
        "stamp": dict(stamp),
        "key_estimates": {} if key.empty else
        {name: {c: _value(v) for c, v in row.items()} for name, row in key.iterrows()},
        "results": {a: {k: r.to_dict() for k, r in res.items()} for a, res in site_results.results.items()},
        "skipped": dict(site_results.skipped),
    }


def _value(v: Any) -> Any:
    """A key estimate's cell for JSON: text as it is, a number as float, NaN and inf as null."""
    if isinstance(v, str):
        return v
    v = float(v)
    return v if math.isfinite(v) else None


def write_results(site_results: Any, stamp: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write ``out_dir/results.json`` atomically (temporary file, then rename)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    tmp = out / ".results.json.tmp"
    tmp.write_text(json.dumps(results_document(site_results, stamp), indent=2, ensure_ascii=False,
                              sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path
