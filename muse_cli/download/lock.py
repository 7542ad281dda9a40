"""One install of a name at a time: ``downloads/NAME.lock``, held with :mod:`filelock`.

filelock gives the cross-platform lock (flock on Unix, msvcrt on Windows). muse removes the
lock file while still holding it, so that no empty ``.lock`` file stays behind; filelock's
acquire sees that a lock file it won was unlinked meanwhile (no links left) and locks the new
one, so two processes never hold the same name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from muse_cli.download.transfer import Event, Report


@contextmanager
def locked(path: Path, emit: Report, holder: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path``, saying "waiting for ``holder``" when it is busy; remove it on release."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, thread_local=False, fallback_to_soft=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        emit(Event("waiting", f"waiting for {holder} to finish (lock {path})"))
        lock.acquire()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # Windows: an open file cannot be unlinked (and filelock removes it)
            path.unlink()
        lock.release()
