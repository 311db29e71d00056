"""Batch rendering benchmark: ``evalkit render`` against the naive papermill + nbconvert loop.

Synthesises ``--sites`` sites and writes a params file per site, then renders
every site's report twice, in the same run, from the same notebook and the
same data:

- evalkit: :func:`evalkit.render.render_batch`, what ``evalkit render
  --jobs N`` runs (``--engine``: warm kernels or papermill's kernel per
  site; ``--executor dask``: a local dask.distributed cluster, timed with 1
  and then 2 workers);
- naive: the shell loop evaluators use today, one site after another:
  ``papermill`` (a new kernel, the imports and the data load per site) then
  ``jupyter nbconvert --to html --no-input``. It reads the same Parquet copy
  of the valid rows that ``evalkit render`` prepares, so that the reports'
  stamps name the same data.

Both must give the same set of reports, and each site's ``results.json``
must be the same apart from the stamp's render time; otherwise the script
exits 1. The last line is ``speedup_vs_naive=<ratio> evalkit_s=<s>
naive_s=<s> sites=<N>``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evalkit.io import write_dataset
from evalkit.render import REPORT_NOTEBOOK, RenderOptions, prepare_batch_data, render_batch, write_site_params
from evalkit.synth import synthesise

_LANG = "en"


def _tool(name: str) -> list[str]:
    """The command of a tool of this Python environment (the venv's, not another on PATH)."""
    exe = Path(sys.executable).parent / name
    return [str(exe)] if exe.exists() else [sys.executable, "-m", name]


def naive_loop(data: Path, params: Path, out: Path, sites: list[str]) -> float:
    """papermill then nbconvert for each site, one after another; returns the seconds taken."""
    t0 = time.perf_counter()
    for s in sites:
        folder = out / s
        folder.mkdir(parents=True)
        nb = folder / "report.ipynb"
        subprocess.run(
            [
                *_tool("papermill"),
                str(REPORT_NOTEBOOK),
                str(nb),
                "-p",
                "site",
                s,
                "-p",
                "data_dir",
                str(data),
                "-p",
                "params_file",
                str(params / f"{s}.yaml"),
                "-p",
                "lang",
                _LANG,
                "-p",
                "out_dir",
                str(folder),
                "--no-progress-bar",
            ],
            check=True,
            capture_output=True,
            cwd=REPORT_NOTEBOOK.parent,
        )
        subprocess.run(
            [*_tool("jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb)], check=True, capture_output=True
        )
    return time.perf_counter() - t0


def evalkit_render(data: Path, params: Path, out: Path, options: RenderOptions) -> float:
    t0 = time.perf_counter()
    manifest = render_batch(data, out, params, options)
    failed = sorted(manifest.failed())
    if failed:
        raise SystemExit(f"evalkit render failed for {', '.join(failed)}: see {out}/manifest.json")
    return time.perf_counter() - t0


def dask_render(data: Path, params: Path, out: Path, jobs: int, engine: str, workers: int) -> float:
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        return evalkit_render(data, params, out, RenderOptions(jobs=jobs, lang=_LANG, executor=address, engine=engine))


def _results(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["stamp"].pop("rendered_at")  # the only thing that may differ: when it was rendered
    return doc


def compare(evalkit_out: Path, naive_out: Path, sites: list[str]) -> list[str]:
    """Differences between the two runs: missing reports, or results.json not the same."""
    problems = []
    for s in sites:
        ours, theirs = evalkit_out / s / "report.html", naive_out / s / "report.html"
        if not ours.is_file() or not theirs.is_file():
            problems.append(f"{s}: report missing ({'evalkit' if not ours.is_file() else 'naive'})")
        elif _results(evalkit_out / s / "results.json") != _results(naive_out / s / "results.json"):
            problems.append(f"{s}: results.json differs")
    extra = {p.parent.name for p in evalkit_out.glob("*/report.html")} ^ {
        p.parent.name for p in naive_out.glob("*/report.html")
    }
    return problems + [f"{s}: rendered by one run only" for s in sorted(extra)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=22)
    ap.add_argument("--quick", action="store_true", help="2 sites (for CI)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="sites at the same time (local)")
    ap.add_argument("--engine", choices=("warm", "papermill"), default="warm")
    ap.add_argument(
        "--executor", choices=("local", "dask"), default="local", help="dask: a local cluster with 1, then 2 workers"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.sites = 2
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        data = synthesise(sites=args.sites, seed=args.seed)
        write_dataset(data.tables, data.meta, root / "data")
        sites = [str(s) for s in data.tables["sites"]["site_id"]]
        write_site_params(sites, root / "params", lang=_LANG)
        # the naive loop reads what evalkit render's notebooks read: the valid rows as Parquet
        prepare_batch_data(root / "data", root / "naive_data")
        print(
            f"{len(sites)} sites synthesised; rendering with evalkit ({args.executor}, engine {args.engine}, "
            f"jobs {args.jobs}) and with the naive loop",
            flush=True,
        )
        if args.executor == "dask":
            one = dask_render(root / "data", root / "params", root / "dask1", 1, args.engine, 1)
            print(f"dask, 1 worker: {one:.1f} s", flush=True)
            evalkit_s = dask_render(root / "data", root / "params", root / "evalkit", 1, args.engine, 2)
            print(f"dask, 2 workers: {evalkit_s:.1f} s (speed-up over 1 worker: {one / evalkit_s:.2f})", flush=True)
        else:
            evalkit_s = evalkit_render(
                root / "data",
                root / "params",
                root / "evalkit",
                RenderOptions(jobs=args.jobs, lang=_LANG, engine=args.engine),
            )
            print(f"evalkit render: {evalkit_s:.1f} s ({evalkit_s / len(sites):.2f} s per site)", flush=True)
        naive_s = naive_loop(root / "naive_data", root / "params", root / "naive", sites)
        print(f"naive loop: {naive_s:.1f} s ({naive_s / len(sites):.2f} s per site)", flush=True)
        problems = compare(root / "evalkit", root / "naive", sites)
        for p in problems:
            print(f"MISMATCH {p}")
        if problems:
            return 1
        print(f"the same {len(sites)} reports, results.json identical apart from the render time")
    print(
        f"speedup_vs_naive={naive_s / evalkit_s:.2f} evalkit_s={evalkit_s:.1f} naive_s={naive_s:.1f} sites={len(sites)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
