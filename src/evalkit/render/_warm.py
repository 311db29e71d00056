"""Warm kernels for ``evalkit render`` (private): one kernel per worker, reused across sites.

papermill starts a kernel for every notebook, so each report pays the
kernel start, the heavy imports (pandas, lifelines, statsmodels, pingouin,
matplotlib) and the reading and validation of the batch's data: seconds
before any analysis. Here each worker thread keeps one kernel, started and
warmed once (imports done, :func:`evalkit.report.load_dataset` memoised),
and papermill runs every site's notebook on it through the ``evalkit-warm``
engine, so the executed notebook, its metadata and its outputs are the ones
papermill's own engine gives.

Between sites the kernel is made clean, out of band (nothing of it enters
the notebook): ``%reset -f`` empties the namespace, open figures are closed
and the working directory becomes the next site's folder. After a site
fails (an error, a timeout, a dead kernel) the kernel is replaced before the
next site, so a failure leaves nothing behind for the others.

The memoised dataset is shared by the sites a kernel renders: it is read
again whenever a file of the folder changes (name, size or modification
time), and its tables are a :class:`evalkit.site.SiteTables`, so each site's
rows are found in one pass for all the sites instead of a filter of every
table per site. The warm kernel's stderr goes to a temporary log, not to the site's
``_work/kernel.log``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines

from evalkit.render._kernel import site_kernel_manager, stopping

__all__ = ["ENGINES", "engine_options", "warm_kernels", "memoise_datasets"]

ENGINES = ("warm", "papermill")
_ENGINE_NAME = "evalkit-warm"
_START_TIMEOUT = 60
#: imports every report needs, paid once per kernel
_WARM_UP = """
import evalkit, evalkit.report, evalkit.site, evalkit.plots, evalkit.survival, evalkit.effects
import lifelines, pingouin, statsmodels.api, matplotlib.pyplot
from evalkit.render._warm import memoise_datasets
memoise_datasets()
"""
#: run before every site: the namespace of a fresh kernel, the site's folder as working directory
_CLEAN = """
%reset -f
import os as _o, matplotlib.pyplot as _p
_p.close("all")
_o.chdir({folder!r})
del _o, _p
"""

_LOCAL = threading.local()
_ALL: list["WarmKernel"] = []
_ALL_LOCK = threading.Lock()


class WarmKernel:
    """One kernel and its client, driven from the thread that created it."""

    def __init__(self) -> None:
        self.log: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", prefix="evalkit-kernel-")
        self.km: Any = None
        self.kc: Any = None
        self.dirty = True  # no kernel yet

    def ready(self, folder: str) -> None:
        """A clean kernel whose working directory is ``folder`` (restarted if the last site failed)."""
        if stopping():
            raise RuntimeError("the batch is stopping")
        if self.dirty or not run_sync(self.km.is_alive)():
            self.stop()
            self.km = site_kernel_manager(tempfile.gettempdir(), self.log)(kernel_name="python3")
            run_sync(self.km.start_kernel)()
            self.kc = self.km.client()
            self.kc.start_channels()
            run_sync(self.kc.wait_for_ready)(timeout=_START_TIMEOUT)
            self._run(_WARM_UP)
        self.dirty = True  # until the site's notebook has run without an error
        self._run(_CLEAN.format(folder=folder))

    def _run(self, code: str) -> None:
        # polled rather than one long wait: a Ctrl-C kills the kernel, and the worker must see that
        # within a second, not after the whole timeout
        msg_id, deadline = self.kc.execute(code, store_history=False), time.monotonic() + _START_TIMEOUT
        while True:
            if stopping() or not run_sync(self.km.is_alive)():
                raise RuntimeError("the warm kernel stopped while it was being prepared")
            try:
                reply = run_sync(self.kc.get_shell_msg)(timeout=0.5)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise RuntimeError("the warm kernel did not answer while it was being prepared") from None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the warm kernel could not be prepared ({reply['content'].get('ename')})")

    def stop(self) -> None:
        """Stop the kernel (if any); the object can start a new one."""
        kc, km, self.kc, self.km, self.dirty = self.kc, self.km, None, None, True
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            with contextlib.suppress(Exception):  # already dead: nothing to stop
                run_sync(km.shutdown_kernel)(now=True)


def _thread_kernel() -> WarmKernel:
    kernel = getattr(_LOCAL, "kernel", None)
    if kernel is None:
        kernel = _LOCAL.kernel = WarmKernel()
        with _ALL_LOCK:
            _ALL.append(kernel)
    return kernel


class WarmEngine(NBClientEngine):
    """papermill's nbclient engine, on this thread's warm kernel instead of a new one."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: float | None = None,
        site_folder: str = ".",
        **kwargs: Any,
    ) -> Any:
        kernel = _thread_kernel()
        kernel.ready(site_folder)
        client = PapermillNotebookClient(
            nb_man,
            km=kernel.km,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        client.kc = kernel.kc
        nb = client.execute()
        kernel.dirty = any(c.get("metadata", {}).get("papermill", {}).get("exception") for c in nb.cells)
        return nb


papermill_engines.register(_ENGINE_NAME, WarmEngine)


def engine_options(engine: str, folder: str, log: IO[str]) -> dict[str, Any]:
    """Keyword arguments of ``papermill.execute_notebook`` that run a site with ``engine``."""
    if engine == "warm":
        return {"engine_name": _ENGINE_NAME, "site_folder": folder}
    return {"kernel_manager_class": site_kernel_manager(folder, log)}


@contextlib.contextmanager
def warm_kernels() -> Iterator[None]:
    """Stop every warm kernel started inside the block when it ends."""
    try:
        yield
    finally:
        with _ALL_LOCK:
            kernels = list(_ALL)
            _ALL.clear()

        def stop_all() -> None:
            for k in kernels:
                k.stop()

        # on a thread of its own: driving the kernels' asyncio calls from the caller's thread would
        # leave an event loop set there, which a later asyncio user (dask in-process) trips over
        stopper = threading.Thread(target=stop_all, name="evalkit-warm-stop", daemon=True)
        stopper.start()
        # after Ctrl-C the kernels are dead already (killed): closing their channels can linger, and
        # must not hold up the stop the user asked for
        stopper.join(timeout=1 if stopping() else None)
        for kernel in kernels:
            kernel.log.close()


def _signature(folder: Path) -> tuple:
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file())


def memoise_datasets() -> None:
    """Make :func:`evalkit.report.load_dataset` read a folder once while its files stay unchanged.

    Run inside a warm kernel only (see the module docstring).
    """
    from evalkit import report, site

    original: Callable = report.load_dataset
    if getattr(original, "memoised", False):
        return
    memo: dict[tuple, Any] = {}

    @functools.wraps(original)
    def load_dataset(data_dir: str | os.PathLike) -> Any:
        folder = Path(data_dir).resolve()
        key = (str(folder), _signature(folder))
        if key not in memo:
            memo.clear()
            dataset = original(data_dir)
            # each site's rows found once for all the sites this kernel renders
            dataset.tables = site.SiteTables(dataset.tables)
            memo[key] = dataset
        return memo[key]

    load_dataset.memoised = True  # type: ignore[attr-defined]
    report.load_dataset = load_dataset
