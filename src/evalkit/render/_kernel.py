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
registry, so that :func:`kill_kernels` can stop them at once. After it, the
batch is *stopping* (:func:`stopping`): a kernel that finishes starting
is killed at once, and the workers drop their sites' work instead of
writing a failure page for them.
"""

from __future__ import annotations

import os
import signal
import threading
import weakref
from typing import IO, Any, cast

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

__all__ = ["site_kernel_manager", "kill_kernels", "stopping", "reset_stop"]

_RUNNING: "weakref.WeakSet[AsyncKernelManager]" = weakref.WeakSet()
_LOCK = threading.Lock()
_STOPPING = threading.Event()


#: BLAS and OpenMP in every report kernel use one thread: the batch's workers are the parallelism, and
#: more threads per kernel would oversubscribe the cores (``site.analyse`` limits its own fits anyway)
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def site_kernel_manager(cwd: str, log: IO[str]) -> type[AsyncKernelManager]:
    """An ``AsyncKernelManager`` class whose kernels start in ``cwd`` and write stderr to ``log``."""

    class SiteKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            env = {**os.environ, **(kw.get("env") or {}), **_ONE_THREAD}
            await super().start_kernel(**{**kw, "cwd": cwd, "stderr": log, "env": env})
            with _LOCK:  # under the lock: kill_kernels either sees this kernel or has set the flag
                _RUNNING.add(self)  # weakly: a manager papermill is done with drops out by itself
                late = _STOPPING.is_set()
            if late:  # started while the batch was being stopped: it must not run a site
                _kill(self)

    return SiteKernelManager


def kill_kernels() -> int:
    """Kill (SIGKILL, with their child processes) the kernels this process has running; returns how many.

    Their sites stop within about a second, and the batch is :func:`stopping` from then on.
    """
    with _LOCK:
        _STOPPING.set()
        managers = list(_RUNNING)
        _RUNNING.clear()
    return sum(_kill(km) for km in managers)


def stopping() -> bool:
    """Whether :func:`kill_kernels` has run since the batch started (:func:`reset_stop`)."""
    return _STOPPING.is_set()


def reset_stop() -> None:
    """A new batch starts: kernels may run again."""
    _STOPPING.clear()


def _kill(km: AsyncKernelManager) -> bool:
    proc = getattr(km.provisioner, "process", None)
    if proc is None or proc.poll() is not None:
        return False  # ended (and reaped by poll): its process id may belong to another program by now
    group = cast(LocalProvisioner, km.provisioner).pgid  # it has a process (above): the local provisioner
    try:
        if group and group != os.getpgid(0):  # never our own group: that would end the batch too
            os.killpg(group, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True
