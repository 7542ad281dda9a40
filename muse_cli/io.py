"""Files in and out: atomic writes, '-' for stdin/stdout, latent files (.npz, .npy, NDJSON).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import io
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muse_cli.errors import InputError, LatentError, OutputExistsError, UsageError

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
    """The bytes of a file, or of stdin for '-'; a missing file is a one-line InputError."""
    if path == STDIO:
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory; give a file") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read: {exc.strerror}") from None


def read_latents(data: bytes, source: str) -> list[LatentWindow]:
    """Latents from muse encode's output: NDJSON, .npz or .npy bytes (sniffed, not by name)."""
    if not data.strip():
        raise LatentError(f"{source} is empty; give the output of muse encode")
    if data[:6] == b"\x93NUMPY":
        z = _load_npy(data, source)
        return [LatentWindow(source=Path(source).stem, start_bar=2 * i, z=row) for i, row in enumerate(z)]
    if data[:2] == b"PK":
        try:
            npz = np.load(io.BytesIO(data), allow_pickle=False)
            z = np.asarray(npz["z"], dtype=np.float32)
            sources = [str(s) for s in npz["source"]] if "source" in npz else [Path(source).stem] * len(z)
            bars = [int(b) for b in npz["start_bar"]] if "start_bar" in npz else [2 * i for i in range(len(z))]
            ckpt = str(npz["checkpoint"]) if "checkpoint" in npz else ""
        except (KeyError, ValueError, OSError) as exc:
            raise LatentError(f"{source} is not a muse latent .npz (needs an array 'z'): {exc}") from None
        _check_2d(z, source)
        return [LatentWindow(s, b, row, ckpt) for s, b, row in zip(sources, bars, z)]
    out = []
    for lineno, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            z = np.asarray(obj["z"], dtype=np.float32)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise LatentError(f"{source} line {lineno} is not a latent (JSON with a 'z' list); "
                              "give muse encode's output") from None
        if z.ndim != 1:
            raise LatentError(f"{source} line {lineno}: 'z' must be a flat list of numbers")
        out.append(LatentWindow(str(obj.get("source", Path(source).stem)), int(obj.get("start_bar", 2 * len(out))),
                                z, str(obj.get("checkpoint", ""))))
    if not out:
        raise LatentError(f"{source} holds no latents")
    return out


def _load_npy(data: bytes, source: str) -> np.ndarray:
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False).astype(np.float32)
    except (ValueError, OSError) as exc:
        raise LatentError(f"{source} is not a readable .npy file: {exc}") from None
    if z.ndim == 1:
        z = z[None, :]
    _check_2d(z, source)
    return z


def _check_2d(z: np.ndarray, source: str) -> None:
    if z.ndim != 2 or z.shape[0] == 0:
        raise LatentError(f"{source}: latents must be a [windows, z_size] array, got shape {list(z.shape)}")


def latents_bytes(windows: list[LatentWindow], fmt: str) -> bytes:
    """Serialise latents as 'ndjson', 'npz' or 'npy'."""
    if fmt == "ndjson":
        lines = [json.dumps({"source": w.source, "start_bar": w.start_bar, "checkpoint": w.checkpoint,
                             "z": [round(float(v), 7) for v in w.z]}) for w in windows]
        return ("\n".join(lines) + "\n").encode()
    buf = io.BytesIO()
    z = np.stack([w.z for w in windows]).astype(np.float32)
    if fmt == "npy":
        np.save(buf, z)
    else:
        np.savez(buf, z=z, source=np.array([w.source for w in windows]),
                 start_bar=np.array([w.start_bar for w in windows], np.int64),
                 checkpoint=np.array(windows[0].checkpoint if windows else ""))
    return buf.getvalue()


# -- writing ----------------------------------------------------------------
def check_writable(paths: list[Path], force: bool) -> None:
    """Refuse before any work starts if an output exists (without --force) or repeats."""
    seen = set()
    for p in paths:
        if p in seen:
            raise UsageError(f"two outputs would be written to {p}; give distinct names")
        seen.add(p)
        if p.exists() and not force:
            raise OutputExistsError(f"{p} exists; use --force to overwrite it")
        if p.exists() and p.is_dir():
            raise OutputExistsError(f"{p} is a directory; give a file name")


def atomic_write(path: Path, data: bytes, force: bool = False) -> None:
    """Write via a temporary file in the same directory and rename; never leaves a partial file."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: setting it per write races when threads write (muse batch does)


def _umask() -> int:
    return _UMASK


def write_stdout(data: bytes, what: str, binary: bool = True) -> None:
    """Write to stdout; refuse binary data to a terminal."""
    if binary and sys.stdout.isatty():
        raise UsageError(f"refusing to write {what} to a terminal; use -o FILE or pipe the output")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
