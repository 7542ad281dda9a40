"""Files in and out: atomic writes, '-' for stdin/stdout, latent files (.npz, .npy, NDJSON).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.abc
import importlib.machinery
import io
import json
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muse_cli import settings
from muse_cli.errors import InputError, LatentError, OutputExistsError, UsageError, WriteError

STDIO = "-"


@contextlib.contextmanager
def stdout_to_stderr():
    """While inside, anything printed to stdout (by Python or by C code) goes to stderr instead.

    Keeps a MIDI or WAV stream on stdout clean of other libraries' chatter.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no usable fd 1 (embedded interpreter): Python-level redirect only
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


class _QuietImportFinder(importlib.abc.MetaPathFinder):
    """Imports the named modules quietly: CI unset and stdout sent to stderr while they load.

    pyfluidsynth prints where it found libfluidsynth to stdout at import time whenever the CI
    variable is set, and pretty_midi, note_seq and magenta all import it: without this,
    `muse sample -o -` or `muse render - -o -` in a CI job would put that line into the file,
    and on stderr it would turn every one-line error into two lines.
    """

    modules = frozenset({"fluidsynth"})

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        real = spec.loader

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return real.create_module(spec)

            def exec_module(self, module):
                ci = os.environ.pop("CI", None)
                try:
                    with stdout_to_stderr():
                        real.exec_module(module)
                finally:
                    if ci is not None:
                        os.environ["CI"] = ci

        spec.loader = _Loader()
        return spec


def keep_stdout_clean() -> None:
    """Install the quiet import of chatty modules (idempotent). Called by the CLI and batch workers."""
    if not any(isinstance(f, _QuietImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImportFinder())


@dataclass(frozen=True)
class LatentWindow:
    """One encoded 2-bar window: where it came from and its latent vector."""

    source: str
    start_bar: int
    z: np.ndarray
    checkpoint: str = ""


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


def read_latents(data: bytes, source: str) -> list[LatentWindow]:
    """Latents from muse encode's output: NDJSON, .npz or .npy bytes (sniffed, not by name).

    Every field is checked: z real numbers in a [windows, z_size] array of at most
    settings.MAX_LATENT_ROWS rows, start_bar a whole number of bars from 0 to settings.MAX_START_BAR.
    """
    if not data.strip():
        raise LatentError(f"{source} is empty; give the output of muse encode")
    if data[:4] == b"MThd":
        raise LatentError(
            f"{source} is a MIDI file, not latents; to decode a MIDI primer run: muse decode --midi {source}"
        )
    if data[:6] == b"\x93NUMPY":
        z = _load_npy(data, source)
        return [LatentWindow(source=Path(source).stem, start_bar=2 * i, z=row) for i, row in enumerate(z)]
    if data[:2] == b"PK":
        return _read_npz(data, source)
    out = []
    for lineno, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source} line {lineno}"
        try:
            obj = json.loads(line)
            values = obj["z"]
        except (json.JSONDecodeError, KeyError, TypeError, IndexError):
            raise LatentError(f"{where} is not a latent (JSON with a 'z' list); give muse encode's output") from None
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        ):
            raise LatentError(f"{where}: 'z' must be a flat, non-empty list of numbers")
        z = np.asarray(values, dtype=np.float32)
        if len(out) >= settings.MAX_LATENT_ROWS:
            raise LatentError(
                f"{source} holds more than {settings.MAX_LATENT_ROWS} latents; split it into "
                "smaller files (or use muse batch)"
            )
        bar = _start_bar(obj.get("start_bar", 2 * len(out)), where)
        src, ckpt = obj.get("source", Path(source).stem), obj.get("checkpoint", "")
        if not isinstance(src, str) or not isinstance(ckpt, str):
            raise LatentError(f"{where}: 'source' and 'checkpoint' must be strings")
        out.append(LatentWindow(src, bar, z, ckpt))
    if not out:
        raise LatentError(f"{source} holds no latents")
    return out


def _real(z: np.ndarray, where: str) -> np.ndarray:
    """z as float32, refusing complex, boolean, string or object arrays (which numpy would coerce)."""
    if z.dtype.kind not in "fiu":
        raise LatentError(f"{where}: latents must be real numbers, got {z.dtype} values")
    return z.astype(np.float32)


def _start_bar(value, where: str) -> int:
    if isinstance(value, np.integer):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= settings.MAX_START_BAR:
        raise LatentError(
            f"{where}: start_bar must be a whole number of bars from 0 to {settings.MAX_START_BAR}, got {value!r}"
        )
    return value


def _read_npz(data: bytes, source: str) -> list[LatentWindow]:
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        fields = {k: npz[k] for k in ("z", "source", "start_bar", "checkpoint") if k in npz}
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise LatentError(f"{source} is not a readable .npz file ({' '.join(str(exc).split())[:120]})") from None
    if "z" not in fields:
        raise LatentError(f"{source} is not a muse latent .npz (needs an array 'z')")
    z = _real(fields["z"], source)
    _check_2d(z, source)
    n = len(z)
    sources, bars = fields.get("source"), fields.get("start_bar")
    if sources is None:
        sources = [Path(source).stem] * n
    elif sources.ndim != 1 or len(sources) != n or sources.dtype.kind != "U":
        raise LatentError(f"{source}: 'source' must be {n} strings, one per row of 'z'")
    if bars is None:
        bars = [2 * i for i in range(n)]
    elif bars.ndim != 1 or len(bars) != n or bars.dtype.kind not in "iu":
        raise LatentError(f"{source}: 'start_bar' must be {n} whole numbers, one per row of 'z'")
    ckpt = fields.get("checkpoint", np.array(""))
    if ckpt.ndim != 0 or ckpt.dtype.kind != "U":
        raise LatentError(f"{source}: 'checkpoint' must be one string")
    bars = [_start_bar(b, f"{source} row {i}") for i, b in enumerate(bars)]
    return [LatentWindow(str(s), b, row, str(ckpt)) for s, b, row in zip(sources, bars, z)]


def _load_npy(data: bytes, source: str) -> np.ndarray:
    try:
        buf = io.BytesIO(data)
        version = np.lib.format.read_magic(buf)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(
            version
        )
        if read_header is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, _ = read_header(buf)  # the header only: no data read yet
        if len(shape) and shape[0] > settings.MAX_LATENT_ROWS:
            raise LatentError(
                f"{source} holds {shape[0]} latents, more than {settings.MAX_LATENT_ROWS}; "
                "split it into smaller files (or use muse batch)"
            )
        z = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise LatentError(f"{source} is not a readable .npy file: {exc}") from None
    z = _real(z, source)
    if z.ndim == 1:
        z = z[None, :]
    _check_2d(z, source)
    return z


def _check_2d(z: np.ndarray, source: str) -> None:
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise LatentError(f"{source}: latents must be a [windows, z_size] array, got shape {list(z.shape)}")
    if z.shape[0] > settings.MAX_LATENT_ROWS:
        raise LatentError(
            f"{source} holds {z.shape[0]} latents, more than {settings.MAX_LATENT_ROWS}; "
            "split it into smaller files (or use muse batch)"
        )


def check_latent_length(windows: list[LatentWindow], qpm: float) -> None:
    """Refuse latents whose decoded melody (first to last window of a source) would pass MAX_SECONDS."""
    spans: dict[str, tuple[int, int]] = {}
    for w in windows:
        lo, hi = spans.get(w.source, (w.start_bar, w.start_bar))
        spans[w.source] = (min(lo, w.start_bar), max(hi, w.start_bar))
    for src, (lo, hi) in spans.items():
        seconds = (hi - lo + 2) * 4 * 60.0 / qpm
        if seconds > settings.MAX_SECONDS:
            raise LatentError(
                f"latents of {src!r} span bars {lo} to {hi + 2}: {seconds:.0f} s at {qpm:g} qpm, "
                f"more than the {settings.MAX_SECONDS:g} s maximum; check their start_bar values"
            )


def latents_bytes(windows: list[LatentWindow], fmt: str) -> bytes:
    """Serialise latents as 'ndjson', 'npz' or 'npy'."""
    if fmt == "ndjson":
        lines = [
            json.dumps(
                {
                    "source": w.source,
                    "start_bar": w.start_bar,
                    "checkpoint": w.checkpoint,
                    "z": [round(float(v), 7) for v in w.z],
                }
            )
            for w in windows
        ]
        return ("\n".join(lines) + "\n").encode()
    buf = io.BytesIO()
    z = np.stack([w.z for w in windows]).astype(np.float32)
    if fmt == "npy":
        np.save(buf, z)
    else:
        np.savez(
            buf,
            z=z,
            source=np.array([w.source for w in windows]),
            start_bar=np.array([w.start_bar for w in windows], np.int64),
            checkpoint=np.array(windows[0].checkpoint if windows else ""),
        )
    return buf.getvalue()


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
            os.chmod(tmp, 0o666 & ~_umask())
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


def _umask() -> int:
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
