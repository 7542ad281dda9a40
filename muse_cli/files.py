"""Files in and out: atomic writes, output sets, '-' for stdin/stdout, and the checks made before writing.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from pathlib import Path

from muse_cli import settings
from muse_cli.errors import InputError, OutputExistsError, UsageError, WriteError

STDIO = "-"


# -- reading ----------------------------------------------------------------
def read_bytes(path: str) -> bytes:
    """The bytes of a file, or of stdin for '-', up to settings.MAX_INPUT_BYTES (so /dev/zero cannot hang us);
    a missing, unreadable or oversized input is a one-line InputError."""
    limit = settings.MAX_INPUT_BYTES
    try:
        if path == STDIO:
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        if len(data) > limit:
            raise InputError(
                f"{'stdin' if path == STDIO else path} is larger than {limit // 2**20} MB; "
                "muse reads MIDI files and latents, which are far smaller"
            )
        return data
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory; give a file") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read: {exc.strerror}") from None


# -- writing ----------------------------------------------------------------
def check_folder(folder: Path, what: str) -> None:
    """WriteError unless ``folder`` is, or can be made as, a writable directory (checked, not created)."""
    folder = Path(folder)
    probe = folder
    try:
        while not probe.exists():
            if probe.is_symlink():  # a dangling link: mkdir would fail
                raise WriteError(f"cannot write {what}: {probe} is a broken symbolic link")
            if probe.parent == probe:
                break
            probe = probe.parent
        if not probe.is_dir():
            raise WriteError(f"cannot write {what}: {probe} is not a directory")
    except OSError as exc:
        raise WriteError(f"cannot write {what}: {probe}: {exc.strerror}") from None
    if not os.access(probe, os.W_OK | os.X_OK):
        why = "is on a read-only file system" if _read_only_fs(probe) else "is not writable"
        raise WriteError(f"cannot write {what}: {probe} {why}")


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_writable(paths: list[Path], force: bool) -> None:
    """Refuse before any work starts if an output exists (without --force), repeats, or cannot be written."""
    seen = set()
    for p in paths:
        if p in seen:
            raise UsageError(f"two outputs would be written to {p}; give distinct names")
        seen.add(p)
        check_folder(p.parent, str(p))
        _check_target(p)
        if p.is_dir():
            raise OutputExistsError(f"{p} is a directory; give a file name")
        if p.exists() and not force:
            raise OutputExistsError(f"{p} exists; use --force to overwrite it")
    remove_stale_parts(paths)


def _check_target(path: Path) -> None:
    """A rename replaces what is at ``path``: refuse a symbolic link (/dev/stdout is one) or a device or pipe."""
    if path.is_symlink():
        raise WriteError(
            f"cannot write {path}: it is a symbolic link (to {os.readlink(path)}); give the real path, "
            "or -o - for stdout"
        )
    if path.exists() and not path.is_file() and not path.is_dir():
        raise WriteError(
            f"cannot write {path}: it is a device or pipe, not a file; give a file name, or -o - for stdout"
        )


def remove_stale_parts(paths) -> None:
    """Temporary files that atomic_write left behind when a run writing ``paths`` was killed.

    One directory listing per directory: ``.NAME.XXXXXXXX.part`` for each output NAME.
    """
    by_dir: dict[str, set[str]] = {}
    for path in paths:
        by_dir.setdefault(os.path.dirname(str(path)) or ".", set()).add(os.path.basename(str(path)))
    for directory, names in by_dir.items():
        try:
            entries = [e.name for e in os.scandir(directory) if e.name.startswith(".") and e.name.endswith(".part")]
        except OSError:
            continue
        for entry in entries:
            if entry[1 : -len(".part")].rsplit(".", 1)[0] in names:
                try:
                    os.unlink(os.path.join(directory, entry))
                except OSError:
                    pass


def write_error(exc: OSError, what, undone: bool = True) -> WriteError:
    """One line for an OSError met while writing ``what`` (``undone``: no trace of it was left)."""
    why = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        why = "no space left on the device"
    return WriteError(f"cannot write {what}: {why}{'; nothing was written' if undone else ''}")


class OutputSet:
    """Files written as a set: each to a temporary file beside it, then all renamed at once.

    Leaving the ``with`` block without :meth:`commit` (an error, Ctrl-C) removes every temporary
    file, so a run that fails writes none of its outputs (a SIGKILL leaves ``.NAME.*.part`` files,
    which the next run's check_writable removes).
    """

    def __init__(self, force: bool = False):
        self.force = force
        self.pending: list[tuple[str, Path, bool]] = []  # (temporary file, target, target existed before)
        self.made: list[Path] = []  # folders this set created, removed again if it fails
        self.committed = False

    def __enter__(self):
        return self

    def add(self, path: Path, data: bytes) -> None:
        path = Path(path)
        if path.exists() and not self.force:
            raise OutputExistsError(f"{path} exists; use --force to overwrite it")
        _check_target(path)
        if path.is_dir():
            raise WriteError(f"cannot write {path}: it is a directory, not a file")
        try:
            missing = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made += missing
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        except OSError as exc:
            raise write_error(exc, path) from None
        self.pending.append((tmp, path, path.exists()))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~umask())
        except OSError as exc:
            raise write_error(exc, path) from None

    def commit(self) -> None:
        done = []
        try:
            for _tmp, path, existed in self.pending:
                if not self.force and not existed and path.exists():
                    raise OutputExistsError(
                        f"{path} appeared while muse was writing it; nothing was written (use --force to overwrite it)"
                    )
            for tmp, path, existed in self.pending:
                os.replace(tmp, path)
                done.append((path, existed))
            self.committed = True
        except OSError as exc:
            for path, existed in done:  # new files of a half-renamed set go; replaced ones cannot come back
                if not existed:
                    _unlink(path)
            raise write_error(exc, self.pending[len(done)][1]) from None
        finally:
            if len(done) < len(self.pending):
                for tmp, _, _ in self.pending[len(done) :]:
                    _unlink(tmp)
        self.pending = []

    def __exit__(self, *exc_info):
        if not self.committed:
            for tmp, _, _ in self.pending:
                _unlink(tmp)
            for folder in sorted(set(self.made), key=lambda d: len(d.parts), reverse=True):
                try:
                    folder.rmdir()  # only if empty: a folder something else wrote into stays
                except OSError:
                    pass
        self.pending = []
        return False


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write(path: Path, data: bytes, force: bool = False) -> None:
    """Write via a temporary file in the same directory and rename; never leaves a partial file."""
    with OutputSet(force) as out:
        out.add(path, data)
        out.commit()


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: setting it per write races when threads write (muse batch does)


def umask() -> int:
    """The process's umask, as read at import (what a new file's mode is masked with)."""
    return _UMASK


_STDOUT_CLOSED = False  # the process started with fd 1 closed: guard_stdout() put /dev/null there


def guard_stdout() -> None:
    """If fd 1 is closed, hold it with /dev/null (so no output file gets fd 1) and refuse '-o -' later."""
    global _STDOUT_CLOSED
    try:
        os.fstat(1)
    except OSError:
        fd = os.open(os.devnull, os.O_WRONLY)
        if fd != 1:
            os.dup2(fd, 1)
            os.close(fd)
        _STDOUT_CLOSED = True
        sys.stdout = open(1, "w", closefd=False)


def stdout_closed() -> bool:
    return _STDOUT_CLOSED


def refuse_terminal(what: str) -> None:
    """UsageError when binary ``what`` would go to a terminal, or WriteError when stdout is closed.

    Called while planning outputs, before any model work, and again when writing.
    """
    if stdout_closed() or sys.stdout is None:
        raise WriteError(f"cannot write {what} to stdout: it is closed; use -o FILE")
    if sys.stdout.isatty():
        raise UsageError(f"refusing to write {what} to a terminal; use -o FILE or pipe the output")


def write_stdout(data: bytes, what: str, binary: bool = True) -> None:
    """Write to stdout; refuse binary data to a terminal, and a closed or full stdout in one line."""
    if binary:
        refuse_terminal(what)
    elif stdout_closed() or sys.stdout is None:
        raise WriteError(f"cannot write {what} to stdout: it is closed; use -o FILE")
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except OSError as exc:
        raise write_error(exc, f"{what} to stdout", undone=False) from None
