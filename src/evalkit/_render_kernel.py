"""A kernel manager that starts each site's kernel in its own folder (private).

papermill's own ``cwd=`` changes the working directory of the whole process
for the length of a run, which is unsafe when several sites run on threads
of one process (a kernel could start in another site's folder). The folder
is given to the kernel's process instead. The kernel's stderr (its start-up
warnings, a crash message) goes to a log file rather than into the batch's
progress display.

Kernels start in a session of their own (jupyter_client), so a Ctrl-C in
the terminal does not reach them and a batch would wait for the running
cells to end. The kernels this process has running are therefore kept in a
registry, so that :func:`kill_kernels` can stop them at once.
"""
from __future__ import annotations

import os
import signal
import threading
import weakref
from typing import IO, Any

from jupyter_client.manager import AsyncKernelManager

__all__ = ["site_kernel_manager", "kill_kernels"]

_RUNNING: "weakref.WeakSet[AsyncKernelManager]" = weakref.WeakSet()
_LOCK = threading.Lock()


#: BLAS and OpenMP in every report kernel use one thread: the batch's workers are the parallelism, and
#: more threads per kernel would oversubscribe the cores (``site.analyse`` limits its own fits anyway)
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def site_kernel_manager(cwd: str, log: IO[str]) -> type[AsyncKernelManager]:
    """An ``AsyncKernelManager`` class whose kernels start in ``cwd`` and write stderr to ``log``."""

    class SiteKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            env = {**os.environ, **(kw.get("env") or {}), **_ONE_THREAD}
            await super().start_kernel(**{**kw, "cwd": cwd, "stderr": log, "env": env})
            with _LOCK:
                _RUNNING.add(self)  # weakly: a manager papermill is done with drops out by itself

    return SiteKernelManager


def kill_kernels() -> int:
    """Kill (SIGKILL, with their child processes) the kernels this process has running; returns how many.

    Their sites then fail with ``DeadKernelError`` within about a second.
    """
    with _LOCK:
        managers = list(_RUNNING)
        _RUNNING.clear()
    killed = 0
    for km in managers:
        proc = getattr(km.provisioner, "process", None)
        if proc is None or proc.poll() is not None:
            continue  # ended (and reaped by poll): its process id may belong to another program by now
        group = km.provisioner.pgid
        try:
            if group and group != os.getpgid(0):  # never our own group: that would end the batch too
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed += 1
    return killed
