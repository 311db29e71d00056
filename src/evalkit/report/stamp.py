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
    from evalkit import __version__
    from evalkit.data.schemas import SCHEMA_VERSION

    return {
        "dataset": {
            "name": str(meta.get("name", "")),
            "sha256": content_hash,
            "extracted_on": str(meta.get("extracted_on", "")),
        },
        "schema_version": SCHEMA_VERSION,
        "evalkit": __version__,
        "packages": {p: _version(p) for p in KEY_PACKAGES},
        "params": dict(params),
        "rendered_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def results_document(site_results: Any, stamp: Mapping[str, Any], threshold: int | None = None) -> dict[str, Any]:
    """The content of ``results.json``: stamp, key estimates, every Result, skipped analyses.

    With a disclosure ``threshold`` (what a published output folder gets), the
    key estimates that ``site_results.withheld(threshold)`` names carry no
    numbers, only the reason, and each Result passes
    :func:`evalkit.disclosure.publishable`; what it withholds is listed under
    ``withheld``. Without one, everything is kept: the researcher's copy,
    which never goes into a published folder.
    """
    from evalkit.core.disclosure import publishable
    from evalkit.site import KEY_ESTIMATES

    key = site_results.key_estimates(threshold)
    results: dict[str, dict] = {}
    withheld: list[str] = []
    hidden = site_results.withheld(threshold) if threshold else {}
    hidden_results = {KEY_ESTIMATES[name][:2] for name in hidden}
    for analysis, res in site_results.results.items():
        for name, r in res.items():
            doc = r.to_dict()
            if threshold:
                doc = None if (analysis, name) in hidden_results else publishable(doc, threshold)
            if doc is None:
                withheld.append(f"{analysis}/{name}")
            else:
                results.setdefault(analysis, {})[name] = doc
    return {
        "site": site_results.site,
        "municipality": getattr(site_results, "municipality", ""),
        "stamp": dict(stamp),
        "key_estimates": {}
        if key.empty
        else {name: {c: _value(v) for c, v in row.items()} for name, row in key.iterrows()},
        "results": results,
        **({"disclosure_threshold": threshold, "withheld": withheld} if threshold else {}),
        "skipped": dict(site_results.skipped),
    }


def _value(v: Any) -> Any:
    """A key estimate's cell for JSON: text as it is, a number as float, NaN and inf as null."""
    if isinstance(v, str):
        return v
    v = float(v)
    return v if math.isfinite(v) else None


def write_results(
    site_results: Any, stamp: Mapping[str, Any], out_dir: str | Path, threshold: int | None = None
) -> Path:
    """Write ``out_dir/results.json`` atomically (temporary file, then rename); see :func:`results_document`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    tmp = out / ".results.json.tmp"
    tmp.write_text(
        json.dumps(results_document(site_results, stamp, threshold), indent=2, ensure_ascii=False, sort_keys=True),
        encoding="utf-8",
    )
    tmp.replace(path)
    return path
