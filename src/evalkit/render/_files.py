"""Files of a batch render (private): atomic writes, the output-folder lock, the manifest.

Every output is written to a temporary file in the same folder and renamed
into place, so a reader (or ``--resume`` after a crash) never sees half a
file. The lock is an ``flock`` on ``OUT/.render.lock``: the kernel releases it
when the process ends, however it ends, so a killed render never leaves a
stale lock behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from pathlib import Path
from typing import IO, Any

from evalkit.data.io import atomic_write
from evalkit.core.result import EvalkitError

__all__ = ["RenderError", "atomic_write", "BatchLock", "Manifest", "DONE", "FAILED", "PENDING", "now"]

DONE, FAILED, PENDING = "done", "failed", "pending"


class RenderError(EvalkitError):
    """The batch cannot start: unreadable dataset, missing notebook or params, locked output."""


def now() -> str:
    """UTC time stamp, seconds precision, ISO 8601."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class BatchLock:
    """Exclusive lock on an output folder for the length of a ``with`` block.

    Raises :class:`RenderError` naming the holder (process id, host, start
    time) when another render is writing into the same folder.
    """

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / ".render.lock"
        self._fh: IO[str] | None = None

    def __enter__(self) -> "BatchLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RenderError(
                f"another evalkit render is writing into {self.path.parent.name}/ "
                f"({holder}); wait for it to finish or choose another --out"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {now()}")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            fh.seek(0)
            fh.truncate()
            fh.close()  # closing the descriptor releases the flock


class Manifest:
    """``OUT/manifest.json``: the batch (dataset, language) and each site's status.

    Written atomically after every change, so it is consistent whenever the
    batch stops. Thread-safe: sites finish on worker threads.
    """

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / "manifest.json"
        body = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        self.batch: dict[str, Any] = body.get("batch", {})
        self.sites: dict[str, dict[str, Any]] = body.get("sites", {})
        self._lock = threading.Lock()

    def done(self) -> set[str]:
        """Sites whose report and results are complete."""
        return {s for s, e in self.sites.items() if e.get("status") == DONE}

    def failed(self) -> set[str]:
        return {s for s, e in self.sites.items() if e.get("status") != DONE}

    def set_batch(self, **fields: Any) -> None:
        with self._lock:
            self.batch.update(fields)
            self._save()

    def record(self, site: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self.sites[site] = entry
            self._save()

    def _save(self) -> None:
        body = {"updated": now(), "batch": self.batch, "sites": dict(sorted(self.sites.items()))}
        atomic_write(self.path, json.dumps(body, indent=2, ensure_ascii=False))
