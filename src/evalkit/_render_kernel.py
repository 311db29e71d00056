"""A kernel manager that starts each site's kernel in its own folder (private).

papermill's own ``cwd=`` changes the working directory of the whole process
for the length of a run, which is unsafe when several sites run on threads
of one process (a kernel could start in another site's folder). The folder
is given to the kernel's process instead. The kernel's stderr (its start-up
warnings, a crash message) goes to a log file rather than into the batch's
progress display.
"""
from __future__ import annotations

from typing import IO, Any

from jupyter_client.manager import AsyncKernelManager

__all__ = ["site_kernel_manager"]


def site_kernel_manager(cwd: str, log: IO[str]) -> type[AsyncKernelManager]:
    """An ``AsyncKernelManager`` class whose kernels start in ``cwd`` and write stderr to ``log``."""

    class SiteKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            await super().start_kernel(**{**kw, "cwd": cwd, "stderr": log})

    return SiteKernelManager
