"""Latent files: muse encode's output as NDJSON, .npz or .npy, read with every field checked, and written.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muse_cli import settings
from muse_cli.encoding import STEPS_PER_BAR, WINDOW_BARS, steps_seconds
from muse_cli.errors import LatentError


@dataclass(frozen=True)
class LatentWindow:
    """One encoded 2-bar window: where it came from and its latent vector."""

    source: str
    start_bar: int
    z: np.ndarray
    checkpoint: str = ""


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
        return [LatentWindow(source=Path(source).stem, start_bar=WINDOW_BARS * i, z=row) for i, row in enumerate(z)]
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
        bars = [WINDOW_BARS * i for i in range(n)]
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
        seconds = steps_seconds((hi - lo + WINDOW_BARS) * STEPS_PER_BAR, qpm)
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
