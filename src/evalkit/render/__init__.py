"""Batch rendering (``evalkit render``): one report per site, a manifest and an index.

:func:`render_batch` checks every ``params/<site>.yaml`` before any kernel
starts, reads and validates the dataset once and writes its valid rows as
Parquet to ``OUT/_data/`` (the read-only input of every site's notebook),
then executes the site report notebook with papermill for each site, in
parallel (threads, each driving its own kernel, or tasks on a
dask.distributed cluster). Each site gets ``OUT/<site>/report.html``
(report mode: no code, no parameters, no tracebacks) and the notebook's
``results.json``; ``OUT/manifest.json`` is rewritten after every site, so a
batch stopped at any point can be completed with ``resume``. A site that
fails does not stop the others. ``OUT/index.html`` closes the batch.

Kernels run with the site's folder as working directory and get relative
paths only, so no absolute path of the machine reaches a notebook. An
executed notebook is kept in ``OUT/<site>/_work/`` only when the site failed
(for debugging; paths replaced by placeholders, printed text and error messages
that may quote data withheld; not for publication). Ctrl-C kills the running
kernels at once; their sites stay "pending" for ``--resume``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from evalkit import __version__
from evalkit.render._files import DONE, FAILED, PENDING, BatchLock, Manifest, RenderError, atomic_write, now
from evalkit.render._html import debug_copy, failing_cell, failure_page, path_placeholders, report_html, mask_paths
from evalkit.render._params import write_site_params
from evalkit.data.config import ParamsError, SiteConfig, load_params
from evalkit.core.disclosure import DEFAULT_THRESHOLD, small_mark
from evalkit.core.idcode import mask_codes
from evalkit.core.result import EvalkitError

__all__ = [
    "render_batch",
    "render_site",
    "SiteTask",
    "prepare_batch_data",
    "load_site_params",
    "write_site_params",
    "BatchData",
    "RenderOptions",
    "Manifest",
    "RenderError",
    "REPORT_NOTEBOOK",
    "atomic_write",
]

#: package data, so that ``evalkit render`` works from an installed wheel as from a clone
REPORT_NOTEBOOK = Path(__file__).resolve().parents[1] / "templates" / "site_report.ipynb"
SiteCallback = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class RenderOptions:
    """How a batch runs: ``executor`` is "local" or "dask://HOST:PORT"; ``timeout`` is per cell (s);
    ``engine`` (local executor) "warm" (a kernel per worker, reused, cleaned between sites) or
    "papermill" (a new kernel per site); both give the same reports."""

    jobs: int = 1
    lang: str | None = None
    resume: bool = False
    executor: str = "local"
    timeout: float | None = 600
    notebook: Path = REPORT_NOTEBOOK
    engine: str = "warm"
    researcher_out: Path | None = None


@dataclass(frozen=True)
class BatchData:
    """The batch's shared input: ``path`` (``OUT/_data``), its sites, and the input's fingerprint."""

    path: Path
    site_ids: tuple[str, ...]
    name: str
    sha256: str
    set_aside: dict[str, int]


def prepare_batch_data(data: Path, target: Path) -> BatchData:
    """Validate ``data`` once and write its valid rows as Parquet + ``dataset.yaml`` to ``target``.

    ``dataset.yaml`` keeps the input's manifest and adds ``source_sha256``
    (:func:`evalkit.stamp.dataset_hash` of the input folder), so a report's
    stamp can name the data the batch was given. Rows set aside by
    validation are counted per table in ``set_aside``.

    Raises
    ------
    RenderError
        The dataset cannot be read at all (the message says which file and why).
    """
    from evalkit.data.io import DatasetError, write_dataset
    from evalkit.report.stamp import dataset_hash
    from evalkit.data.validation import validate

    try:
        ds = validate(data)
        digest = dataset_hash(data)
    except (DatasetError, OSError) as exc:
        raise RenderError(f"the dataset cannot be read: {exc}") from None
    # the copy holds the contract's tables: the raw files' mapping (tables:) no longer applies to it
    meta = {
        k: (v.date() if hasattr(v, "date") and callable(v.date) else v) for k, v in ds.meta.items() if k != "tables"
    }
    meta["source_sha256"] = digest
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write_dataset(ds.tables, meta, tmp, fmt="parquet")
    for path in tmp.iterdir():  # read-only: a notebook cannot alter the input the other sites share
        path.chmod(0o444)
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    set_aside = {t: c["quarantined"] for t, c in ds.report.counts.items() if c["quarantined"]}
    sites = tuple(str(s) for s in ds.tables["sites"]["site_id"])
    return BatchData(target, sites, str(ds.meta.get("name", data.name)), digest, set_aside)


def load_site_params(
    params_dir: Path, lang: str | None, site_ids: Iterable[str]
) -> tuple[dict[str, SiteConfig], dict[str, str]]:
    """Check every ``params_dir/<site>.yaml`` (not ``_*.yaml``): configs, and error messages by site.

    Messages name the file (relative to the params folder's parent) and the
    key: an unknown key, a wrong type, a file whose ``site`` differs from
    its name, or a site the dataset does not have.
    """
    known = set(site_ids)
    configs: dict[str, SiteConfig] = {}
    errors: dict[str, str] = {}
    for path in sorted(params_dir.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        # the file's name is the site's name in the manifest and the index: an identity code in it
        # (or in a key the message quotes) is masked there as everywhere
        name = mask_codes(path.stem)
        name = name if name not in errors else f"{name} ({len(errors) + 1})"
        shown = f"{params_dir.name}/{path.name}"
        try:
            cfg = load_params(path, lang=lang)
        except ParamsError as exc:
            errors[name] = mask_codes(str(exc).replace(str(path), shown))
            continue
        if cfg.site != path.stem:
            errors[name] = mask_codes(f"{shown}: key 'site' is {cfg.site!r} but the file is named {path.stem!r}")
        elif cfg.site not in known:
            errors[name] = mask_codes(f"{shown}: key 'site': the dataset has no site {cfg.site!r}")
        else:
            configs[cfg.site] = cfg
    return configs, errors


def _safe_error_names() -> set[str]:
    """Errors whose messages are evalkit's own words (never cell values): shown in the manifest."""
    from evalkit.data import config, io  # noqa: F401 - importing them registers their error classes

    names, todo = set(), [EvalkitError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    return names | {"CellTimeoutError", "DeadKernelError", "MissingResults"}


def _error(kind: str, message: str, stage: str = "notebook") -> dict[str, Any]:
    lines = (message or "").strip().splitlines()
    shown = (
        lines[0][:500]
        if lines and kind in _safe_error_names()
        else "message withheld (it may quote data); see _work/report.ipynb"
    )
    return {"stage": stage, "cell": None, "section": "", "code": "", "type": kind, "message": shown}


@dataclass(frozen=True)
class SiteTask:
    """One site's render, in plain strings (absolute paths) so that a dask worker sharing the file
    system can run it; ``researcher_dir`` (outside the published folder) gets the unsuppressed
    ``results.json``, "" none."""

    config_json: str
    data_dir: str
    out: str
    notebook: str
    timeout: float | None = 600
    researcher_dir: str = ""


def render_site(task: SiteTask, engine: str = "papermill") -> dict:
    """Execute the report notebook for one site; write ``report.html``; return its manifest entry.

    Never raises for a failure of the notebook: the entry says what failed.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from evalkit.render._kernel import stopping
    from evalkit.render._warm import engine_options

    config_json, data_dir, out, timeout = task.config_json, task.data_dir, task.out, task.timeout
    cfg = SiteConfig.model_validate_json(config_json)
    site_dir, nb_path = Path(out) / cfg.site, Path(task.notebook)
    work = site_dir / "_work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (site_dir / "results.json").unlink(missing_ok=True)  # a stale result must not pass for this run's
    executed = work / "report.ipynb"
    started, t0, error = now(), time.perf_counter(), None
    params = {
        "site": cfg.site,
        "data_dir": os.path.relpath(data_dir, site_dir),
        "params_file": "",
        "lang": cfg.lang,
        "out_dir": ".",
        "config_json": config_json,
        "researcher_dir": os.path.relpath(task.researcher_dir, site_dir) if task.researcher_dir else "",
    }
    try:
        with open(work / "kernel.log", "w", encoding="utf-8") as log:
            pm.execute_notebook(
                str(nb_path),
                str(executed),
                parameters=params,
                progress_bar=False,
                log_output=False,
                kernel_name="python3",
                execution_timeout=timeout,
                **engine_options(engine, str(site_dir), log),
            )
        if not (site_dir / "results.json").exists():
            error = _error("MissingResults", "the notebook finished without writing results.json", "results")
    except PapermillExecutionError as exc:
        error = _error(exc.ename, exc.evalue)
    except Exception as exc:  # noqa: BLE001 - a dead kernel or a timeout fails this site only
        error = _error(type(exc).__name__, str(exc))
    if stopping():  # Ctrl-C killed the kernel: the site was not run, so no failure page and no _work
        shutil.rmtree(work, ignore_errors=True)
        return {"status": PENDING}
    # the folders a traceback or a log can name: the output, the notebook's, evalkit's own (a clone's src/ or
    # site-packages) and the data
    pairs = path_placeholders(Path(out), nb_path.parent, Path(__file__).resolve().parents[2], Path(data_dir))
    title = _title(site_dir, cfg)
    try:
        if error and executed.exists():
            error.update(failing_cell(executed))
        page = (
            report_html(executed, cfg.lang, title, error is not None, pairs)
            if executed.exists()
            else failure_page(cfg.lang, title)
        )
    except Exception as exc:  # noqa: BLE001 - an unreadable executed notebook still gets a page
        error = error or _error(type(exc).__name__, str(exc), "html")
        page = failure_page(cfg.lang, title)
    try:
        atomic_write(site_dir / "report.html", page)
        if error is not None and executed.exists():
            atomic_write(executed, debug_copy(executed, pairs, _safe_error_names()))
        if error is not None and (work / "kernel.log").exists():
            atomic_write(work / "kernel.log", mask_paths((work / "kernel.log").read_text(encoding="utf-8"), pairs))
    except OSError:  # e.g. a full disk: the unscrubbed notebook (machine paths, outputs) must not stay
        shutil.rmtree(work, ignore_errors=True)
        raise
    if error is None:
        shutil.rmtree(work, ignore_errors=True)
    entry = {
        "status": FAILED if error else DONE,
        "started": started,
        "finished": now(),
        "duration_s": round(time.perf_counter() - t0, 2),
        "report": f"{cfg.site}/report.html",
        "config_sha256": _config_hash(config_json),
    }
    if error:
        entry["error"] = error
    else:
        entry["results"] = f"{cfg.site}/results.json"
    return entry


def _title(site_dir: Path, cfg: SiteConfig) -> str:
    """The page title a reader sees in a tab or a bookmark: the municipality and what the report is about."""
    from evalkit.core import i18n

    try:
        name = json.loads((site_dir / "results.json").read_text(encoding="utf-8")).get("municipality") or ""
    except (OSError, ValueError):
        name = ""
    return i18n.label("title_heading", cfg.lang, municipality=name or cfg.site)


def _input_hash(data: Path) -> str | None:
    from evalkit.report.stamp import dataset_hash

    try:
        return dataset_hash(data)
    except OSError:
        return None  # unreadable: prepare_batch_data says why


def _config_hash(config_json: str) -> str:
    return hashlib.sha256(config_json.encode()).hexdigest()


#: after Ctrl-C, how long the running sites get to drop their work before the batch returns (they
#: need about a second; the user was promised a stop within five)
_DRAIN_S = 3
_HURRY = threading.Event()


def _run_local(tasks: dict[str, SiteTask], jobs: int, on_done: SiteCallback, engine: str = "warm") -> None:
    from evalkit.render._warm import ENGINES, warm_kernels

    if engine not in ENGINES:
        raise RenderError(f"unknown engine {engine!r}: use {' or '.join(ENGINES)}")
    with warm_kernels(), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(render_site, task, engine=engine): site for site, task in tasks.items()}
        try:
            for fut in as_completed(futures):
                on_done(futures[fut], _entry_of(fut))
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            _drain(futures)
            raise


def _drain(futures: Iterable[Any]) -> None:
    """Give the running sites up to ``_DRAIN_S`` to see their kernels gone and drop their ``_work``;
    a second Ctrl-C ends the wait at once."""
    running = [f for f in futures if not f.cancelled()]  # wait() never counts a cancelled one as done
    deadline = time.monotonic() + _DRAIN_S
    while time.monotonic() < deadline and not _HURRY.is_set():
        if not wait(running, timeout=0.1).not_done:
            return


def _run_dask(address: str, tasks: dict[str, SiteTask], on_done: SiteCallback) -> None:
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise RenderError("--executor dask://... needs dask.distributed: pip install 'dask[distributed]'") from None
    try:
        client = Client("tcp://" + address.removeprefix("dask://"), timeout=10)
    except OSError as exc:
        raise RenderError(f"cannot reach the dask scheduler at {address} ({type(exc).__name__})") from None
    with client:
        futures = {
            client.submit(render_site, task, pure=False, key=f"evalkit-render-{site}-{os.getpid()}"): site
            for site, task in tasks.items()
        }
        for fut in dask_completed(futures):
            on_done(futures[fut], _entry_of(fut))


def _entry_of(fut: Any) -> dict[str, Any]:
    try:
        return fut.result()
    except OSError as exc:  # the site's folder cannot be written: say where and why, no machine path
        where = Path(exc.filename).name if exc.filename else "its output folder"
        message = f"cannot write {where} ({exc.strerror or type(exc).__name__}); fix it and run with --resume"
        return {"status": FAILED, "finished": now(), "error": {**_error("OSError", "", "worker"), "message": message}}
    except Exception as exc:  # noqa: BLE001 - render_site catches notebook errors; this is ours or the worker's
        return {"status": FAILED, "finished": now(), "error": _error(type(exc).__name__, str(exc), "worker")}


@contextlib.contextmanager
def _kernels_stop_on_ctrl_c() -> Iterator[None]:
    """Ctrl-C kills the running kernels at once (they do not get the terminal's signal), then
    interrupts as usual: the sites they ran stay "pending" in the manifest, for ``--resume``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from evalkit.render._kernel import kill_kernels, reset_stop

    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:  # started to ignore Ctrl-C (a background job, nohup): so be it
        yield
        return

    def interrupted(signum: int, frame: Any) -> None:
        kill_kernels()
        signal.signal(signal.SIGINT, lambda *_: _HURRY.set())  # a second Ctrl-C: stop waiting, not cleaning
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    reset_stop()
    _HURRY.clear()
    signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _batch_lang(options: RenderOptions, configs: dict[str, SiteConfig]) -> str:
    if options.lang:
        return options.lang
    common = Counter(c.lang for c in configs.values()).most_common(1)
    return common[0][0] if common else "fi"


def render_batch(
    data: Path,
    out: Path,
    params: Path | None,
    options: RenderOptions = RenderOptions(),
    *,
    on_plan: Callable[[list[str]], None] | None = None,
    on_site: SiteCallback | None = None,
) -> Manifest:
    """Render every site with a params file into ``out``; returns the manifest.

    Parameters
    ----------
    data : Path
        Dataset folder (``dataset.yaml`` + tables), read and validated once.
    out : Path
        Output folder: ``<site>/report.html``, ``<site>/results.json``,
        ``manifest.json``, ``index.html``, ``_data/``.
    params : Path or None
        Folder of ``<site>.yaml`` files (``_template.yaml`` is ignored); None
        renders every site of the data with default parameters (``options.lang``
        or Finnish).
    options : RenderOptions
        ``jobs``, ``lang`` (overrides every site's), ``resume``, ``executor``,
        ``timeout`` (seconds per notebook cell), ``notebook``, ``researcher_out``
        (a folder apart from ``out`` for each site's unsuppressed ``results.json``).
    on_plan, on_site : callable, optional
        Called with the sites about to render, and with each site's entry
        when it finishes (progress display).

    Returns
    -------
    Manifest
        ``.batch["audit"]``: what :func:`evalkit.audit.audit_output` found in
        ``out`` (empty: it may be published). ``.sites[site]``: ``status`` ("done" / "failed"), ``started``,
        ``finished``, ``duration_s``, ``report``, ``results`` or ``error``
        (``stage``: params / notebook / results / html / worker; ``cell``, ``section``, ``code``: where
        the notebook stopped; ``type`` and ``message``: the error, its message withheld unless it
        is one of evalkit's own, which never quote data).

    Raises
    ------
    RenderError
        The batch cannot start (see :class:`RenderError`).
    """
    out, notebook = Path(out).resolve(), Path(options.notebook).resolve()
    params = Path(params).resolve() if params is not None else None
    if not notebook.is_file():
        raise RenderError(
            f"the report notebook {notebook.name} is missing (reinstall evalkit, or name one with --notebook)"
        )
    if params is not None and not params.is_dir():
        raise RenderError(
            f"no params folder {params.name}/: create it with `evalkit params --data DIR --out {params.name}`"
        )
    if options.executor != "local" and not options.executor.startswith("dask://"):
        raise RenderError(f"unknown executor {options.executor!r}: use local or dask://HOST:PORT")
    if options.researcher_out is not None:
        inner = Path(options.researcher_out).resolve()
        if inner == out or out in inner.parents or inner in out.parents:
            raise RenderError(
                "--researcher-out must be a folder apart from --out: it holds the small counts "
                "that a published folder must not"
            )
    with BatchLock(out):
        manifest = Manifest(out)
        if options.resume and manifest.batch.get("dataset_sha256") not in (None, _input_hash(Path(data))):
            raise RenderError(
                "the dataset changed since the last render into this folder; render again without --resume"
            )
        shared = prepare_batch_data(Path(data).resolve(), out / "_data")
        try:
            with _kernels_stop_on_ctrl_c():
                return _render_prepared(shared, out, params, notebook, options, manifest, on_plan, on_site)
        finally:
            # OUT is what gets published: the row-level copy of the data must not stay there
            shutil.rmtree(shared.path, ignore_errors=True)


def _render_prepared(
    shared: BatchData,
    out: Path,
    params: Path | None,
    notebook: Path,
    options: RenderOptions,
    manifest: Manifest,
    on_plan,
    on_site,
) -> Manifest:
    """The batch after its data are prepared: plan, run every site, write the index."""
    configs: dict[str, SiteConfig]
    errors: dict[str, str]
    if params is None:  # no params folder given: every site of the data, with defaults
        configs, errors = {s: SiteConfig(site=s, lang=options.lang or "fi") for s in shared.site_ids}, {}
    else:
        configs, errors = load_site_params(params, options.lang, shared.site_ids)
    lang = _batch_lang(options, configs)
    keep = (
        {s for s in manifest.done() if (out / s / "report.html").is_file() and (out / s / "results.json").is_file()}
        if options.resume
        else set()
    )
    manifest.sites = {s: e for s, e in manifest.sites.items() if s in keep and s in configs}
    threshold = max((c.disclosure_threshold for c in configs.values()), default=DEFAULT_THRESHOLD)
    # OUT is published: a count of rows set aside under the threshold is shown as "<5", as in the reports
    aside = {t: n if n >= threshold else small_mark(threshold) for t, n in shared.set_aside.items()}
    manifest.set_batch(
        dataset=shared.name,
        dataset_sha256=shared.sha256,
        rows_set_aside=aside,
        lang=lang,
        notebook=notebook.name,
        evalkit=__version__,
        started=now(),
        sites_without_params=sorted(set(shared.site_ids) - configs.keys() - errors.keys()),
    )
    for site, message in errors.items():
        manifest.record(
            site,
            {
                "status": FAILED,
                "finished": now(),
                "error": {
                    "stage": "params",
                    "cell": None,
                    "section": "",
                    "code": "",
                    "type": "ParamsError",
                    "message": message,
                },
            },
        )
    tasks = {}
    for site, cfg in configs.items():
        cfg_json = cfg.model_dump_json()
        if site in keep and manifest.sites[site].get("config_sha256") == _config_hash(cfg_json):
            continue
        manifest.record(site, {"status": PENDING})
        researcher = str(Path(options.researcher_out).resolve() / site) if options.researcher_out else ""
        tasks[site] = SiteTask(cfg_json, str(shared.path), str(out), str(notebook), options.timeout, researcher)
    if on_plan:
        on_plan(sorted(tasks))

    def finished(site: str, entry: dict[str, Any]) -> None:
        manifest.record(site, entry)
        if on_site:
            on_site(site, entry)

    if options.executor == "local":
        _run_local(tasks, options.jobs, finished, options.engine)
    else:
        _run_dask(options.executor, tasks, finished)
    from evalkit.render.index import write_index

    write_index(out, manifest, lang)
    from evalkit.report.audit import audit_output

    manifest.set_batch(audit=[str(f) for f in audit_output(out)])
    return manifest
