"""National-scale benchmark: read, validate and analyse every site without notebooks.

Synthesises ``--sites`` sites (309 = every Finnish municipality), writes the
dataset as CSV (the format register extracts arrive in; ``--format parquet``
to read Parquet instead), then times three stages:

- read: :func:`evalkit.io.read_dataset` (every table, cells as text for CSV);
- validate: :func:`evalkit.validation.validate` on the tables read;
- analyse: :func:`evalkit.site.analyse` for every site, on ``--jobs``
  processes forked after the data are loaded (the children share the
  parent's memory), each site's rows picked once by
  :func:`evalkit.site.split_sites`; then the pooled cross-site summary as
  ``evalkit render`` writes it into ``index.html`` (:mod:`evalkit.index`).

Peak memory is the peak resident set of this process plus that of the
largest child (pages the children share with the parent count twice, so it
is an upper bound). ``--check`` also analyses every site in this process on
the unsplit tables and exits 1 unless both give the same results.

The last line is ``read_s=<s> validate_s=<s> analyse_s=<s> peak_rss_mb=<m>
validate_over_read=<ratio>``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from evalkit import index, site, stamp
from evalkit.config import SiteConfig
from evalkit.io import read_dataset, write_dataset
from evalkit.synth import synthesise
from evalkit.validation import validate

#: what the forked workers read: (site tables by site, meta), set before the pool starts
_SHARED: dict = {}


def _analyse_one(site_id: str) -> tuple[str, dict]:
    warnings.simplefilter("ignore")  # estimator notes are in the results; the console stays readable
    parts, meta = _SHARED["parts"], _SHARED["meta"]
    try:
        res = site.analyse(parts[site_id], meta, SiteConfig(site=site_id))
    except Exception as exc:  # noqa: BLE001 - a site the plan does not guard against: counted, shown
        return site_id, {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return site_id, _document(res)


def _document(res: site.SiteResults) -> dict:
    # results.json as a report writes it, without the stamp (which holds the time)
    return json.loads(json.dumps(stamp.results_document(res, {}), sort_keys=True, default=str))


def analyse_all(tables: dict, meta: dict, jobs: int) -> tuple[dict[str, dict], dict]:
    """Every site's results.json content and the pooled estimates (as index.html pools them)."""
    parts = site.split_sites(tables)
    # largest sites first, so that no worker is left with a big one at the end
    order = sorted(parts, key=lambda s: -len(parts[s]["cases"]))
    _SHARED.update(parts=parts, meta=meta)
    try:
        if jobs > 1:
            with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as pool:
                docs = dict(pool.map(_analyse_one, order))
        else:
            docs = dict(map(_analyse_one, order))
    finally:
        _SHARED.clear()
    pooled = index.pooled_estimates(index.site_estimates({s: d for s, d in docs.items() if "error" not in d}))
    return docs, pooled


def _serial_unsplit(tables: dict, meta: dict) -> dict[str, dict]:
    _SHARED.update(parts={s: tables for s in tables["sites"]["site_id"]}, meta=meta)
    try:
        return dict(map(_analyse_one, tables["sites"]["site_id"]))
    finally:
        _SHARED.clear()


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024  # Linux: kilobytes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=309)
    ap.add_argument("--quick", action="store_true", help="3 sites and --check (for CI)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv", help="the format written and read")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for the analyses")
    ap.add_argument("--check", action="store_true", help="compare with a serial run on the unsplit tables")
    ap.add_argument("--workdir", type=Path, default=None, help="where the dataset is written (default: a temp dir)")
    args = ap.parse_args(argv)
    if args.quick:
        args.sites, args.check = 3, True
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        folder = Path(tmp) / "national"
        t0 = time.perf_counter()
        data = synthesise(sites=args.sites, seed=args.seed)
        write_dataset(data.tables, data.meta, folder, fmt=args.format)
        rows = sum(len(t) for t in data.tables.values())
        del data
        print(
            f"synthesised {args.sites} sites, {rows:,} rows, written as {args.format} "
            f"in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )

        t0 = time.perf_counter()
        tables, meta = read_dataset(folder)
        read_s = time.perf_counter() - t0
        print(f"read ({args.format}): {read_s:.2f} s", flush=True)
    t0 = time.perf_counter()
    ds = validate(tables, meta)
    validate_s = time.perf_counter() - t0
    del tables
    print(
        f"validate: {validate_s:.2f} s ({sum(c['valid'] for c in ds.report.counts.values()):,} valid rows)", flush=True
    )

    t0 = time.perf_counter()
    docs, pooled = analyse_all(ds.tables, ds.meta, args.jobs)
    analyse_s = time.perf_counter() - t0
    skipped = sum(len(d.get("skipped", ())) for d in docs.values())
    for s, d in sorted(docs.items()):
        if "error" in d:
            print(f"site {s}: site.analyse raised {d['error']}", flush=True)
    print(
        f"analyse: {analyse_s:.2f} s ({len(docs)} sites on {args.jobs} process(es), {skipped} analyses not "
        f"estimable; pooled: {', '.join(k for k, v in pooled.items() if not isinstance(v, str))})",
        flush=True,
    )
    peak = _peak_rss_mb()
    print(f"total: {read_s + validate_s + analyse_s:.2f} s, peak memory {peak:.0f} MB", flush=True)
    if args.check:
        same = _serial_unsplit(ds.tables, ds.meta) == docs
        print(f"check against a serial run on the unsplit tables: {'same results' if same else 'DIFFERENT'}")
        if not same:
            return 1
    print(
        f"read_s={read_s:.2f} validate_s={validate_s:.2f} analyse_s={analyse_s:.2f} "
        f"peak_rss_mb={peak:.0f} validate_over_read={validate_s / read_s:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
