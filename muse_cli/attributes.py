"""Attribute vectors (MusicVAE paper, Roberts et al. 2018, §5.3): sliders for density, register, contour...

This module parses ``--attr``, reads the attribute file and applies the offsets (latent maths: NumPy only);
:mod:`muse_cli.training.attributes` fits the vectors.

An attribute vector is the mean latent of melodies high in a measured feature minus the mean latent
of those low in it. ``--attr density=+1`` adds ``1 * v_density`` to every latent before it is decoded:
``z' = z + sum(value_k * v_k)``.

The vectors are fitted from the checkpoint's own prior: :data:`FIT_SAMPLES` latents drawn from
N(0, I) are decoded (temperature 1, seeded), each decoded 2-bar window is measured with
:mod:`muse_cli.features`, and for each attribute ``v = SCALE * (mean z of the top quartile - mean z of
the bottom quartile)``. That needs no corpus, works for any checkpoint, and measures what the decoder
does with a latent, which is what a slider moves. With SCALE = 0.5, +1 moves a draw from the middle of
the prior to about the mean of the top quartile (see bench/bench_attrs.py for the measured steps).
``muse fit-attrs --tunes`` fits from the encoder means of a corpus's training windows instead (the paper's way).

The vectors live in ``attributes.npz`` beside the checkpoint, with the sha256 of the checkpoint's
weights (:func:`muse_cli.cache.checkpoint_identity`); they are refused with any other checkpoint.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np

from muse_cli import settings
from muse_cli.errors import CheckpointError, UsageError

FILE = "attributes.npz"
FORMAT = 1
FIT_COMMAND = "muse fit-attrs"

# name -> (feature of muse_cli.features, what it measures, needs two or more notes to mean anything)
ATTRIBUTES = {
    "density": ("note_count", "notes per 2-bar window", False),
    "register": ("mean_pitch", "mean MIDI pitch", True),
    "contour": ("slope", "rising (+) or falling (-): semitones per bar over the onsets", True),
    "leaps": ("mean_abs_interval", "mean absolute interval between notes, semitones", True),
    "range": ("pitch_range", "highest minus lowest pitch, semitones", True),
    "rests": ("rest_share", "share of the window's 16th steps with no note sounding", False),
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
PAIR = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*=[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")  # a NAME=NUMBER word


# -- the file ----------------------------------------------------------------------
def path_for(checkpoint: Path) -> Path:
    """``attributes.npz`` in the checkpoint's directory."""
    checkpoint = Path(checkpoint)
    return (checkpoint if checkpoint.is_dir() else checkpoint.parent) / FILE


def to_bytes(vectors: np.ndarray, names: list[str], meta: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(
        buf,
        vectors=np.asarray(vectors, np.float32),
        names=np.array(names),
        meta=np.array(json.dumps({"format": FORMAT, **meta}, sort_keys=True)),
    )
    return buf.getvalue()


_LOADED: dict[tuple, dict] = {}


def _ref(name: str, checkpoint: Path) -> str:
    """The checkpoint as muse fit-attrs -c takes it: its name when installed or embedded, else its path."""
    directory = Path(checkpoint).resolve()
    directory = directory if directory.is_dir() else directory.parent
    homes = (settings.EMBEDDED_DIR.resolve(), settings.checkpoints_dir().resolve())
    return name if directory.parent in homes else str(directory)


def _missing(name: str, path: Path) -> str:
    return (
        f"checkpoint {name} has no attribute vectors ({path} is missing); "
        f"make them with: {FIT_COMMAND} -c {_ref(name, path.parent)}"
    )


def load(model, path: Path | None = None) -> dict:
    """{"names", "vectors" [k, z], "meta"} for ``model``'s checkpoint (from its own file, or ``path``);
    CheckpointError if there is none, it is another checkpoint's, or it is unreadable."""
    from muse_cli.cache import checkpoint_identity

    path = Path(path) if path else path_for(model.checkpoint)
    hint = f"{FIT_COMMAND} -c {_ref(model.name, path.parent)}"
    if not path.is_file():
        raise CheckpointError(_missing(model.name, path))
    key = (str(path.resolve()), path.stat().st_mtime_ns, path.stat().st_size, str(Path(model.checkpoint).resolve()))
    if key not in _LOADED:
        try:
            with np.load(path, allow_pickle=False) as data:
                vectors, names, meta = data["vectors"], [str(n) for n in data["names"]], json.loads(str(data["meta"]))
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(
                f"{path} is not a readable attribute file ({exc}); make it again with: {hint} --force"
            ) from None
        if (
            not isinstance(meta, dict)
            or meta.get("format") != FORMAT
            or vectors.shape != (len(names), model.z_size)
            or not np.all(np.isfinite(vectors))
        ):
            raise CheckpointError(
                f"{path} does not fit checkpoint {model.name} (z {model.z_size}); run: {hint} --force"
            )
        identity = checkpoint_identity(model.checkpoint)
        if meta.get("checkpoint_sha256") != identity:
            raise CheckpointError(
                f"{path} was made for another checkpoint (sha256 {str(meta.get('checkpoint_sha256'))[:12]}, "
                f"this one is {identity[:12]}); make it again with: {hint} --force"
            )
        _LOADED[key] = {"names": names, "vectors": vectors.astype(np.float32), "meta": meta}
    return _LOADED[key]


# -- values: parse, check, apply ------------------------------------------------------
def parse(pairs) -> dict[str, float]:
    """``["density=+1", "register=-0.5"]`` (or one string with several space-separated pairs) -> a dict."""
    out: dict[str, float] = {}
    for text in pairs:
        for pair in str(text).replace(",", " ").split():
            name, eq, raw = pair.partition("=")
            if not eq or not _NAME.match(name):
                raise UsageError(
                    f"--attr {pair!r} is not NAME=VALUE; write e.g. --attr density=+1 --attr register=-0.5"
                )
            try:
                value = float(raw)
            except ValueError:
                raise UsageError(f"--attr {pair!r}: {raw!r} is not a number; write e.g. {name}=+1") from None
            if name in out:
                raise UsageError(f"--attr {name} is given twice; give each attribute once")
            out[name] = value
    return check_values(out)


def check_values(attrs: dict) -> dict[str, float]:
    """Each value a finite number within ±MAX_ATTR (names are checked against a checkpoint by :func:`offset`)."""
    limit = settings.MAX_ATTR
    for name, value in attrs.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"--attr {name}: the value must be a finite number, got {value!r}")
        if abs(value) > limit:
            raise UsageError(f"--attr {name}={value:g} is outside [-{limit:g}, {limit:g}]; ±1 is a clear step already")
    return {str(k): float(v) for k, v in attrs.items()}


def check_names(names, known: list[str], where: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(
            f"unknown attribute{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for {where}; "
            f"it knows: {', '.join(known)} (see: muse attrs)"
        )


def check_file(checkpoint, names: list[str]) -> None:
    """Refuse ``names`` for a resolved registry checkpoint before any model loads: CheckpointError when it has no
    readable attribute file, UsageError for unknown names (:func:`load` checks the file's identity later)."""
    path = path_for(checkpoint.path)
    if not path.is_file():
        raise CheckpointError(_missing(checkpoint.name, path))
    try:
        with np.load(path, allow_pickle=False) as data:
            known = [str(n) for n in data["names"]]
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"{path} is not a readable attribute file ({exc}); make it again with: "
            f"{FIT_COMMAND} -c {_ref(checkpoint.name, path.parent)} --force"
        ) from None
    check_names(names, known, f"checkpoint {checkpoint.name}")


def offset(model, attrs: dict | None) -> np.ndarray | None:
    """``sum(value_k * v_k)`` [z] for ``attrs`` ({name: value}), or None when there are none."""
    if not attrs:
        return None
    attrs = check_values(attrs)
    table = load(model)
    check_names(attrs, table["names"], f"checkpoint {model.name}")
    delta = np.zeros(model.z_size, np.float64)
    for name, value in attrs.items():
        delta += value * table["vectors"][table["names"].index(name)].astype(np.float64)
    return delta.astype(np.float32)


def attr_offset(model, attrs: dict | None) -> tuple[np.ndarray | None, dict]:
    """What a recipe of :mod:`muse_cli.model` needs: (the latent offset of ``attrs``, provenance to add);
    (None, {}) without attributes, so that melodies without them keep their bytes."""
    if not attrs:
        return None, {}
    return offset(model, attrs), {"attrs": check_values(attrs)}


def shifted(z: np.ndarray, delta: np.ndarray | None) -> np.ndarray:
    """Latents [..., z] moved by ``delta`` (unchanged, the same array, when delta is None)."""
    return z if delta is None else (np.asarray(z, np.float32) + delta).astype(np.float32)
