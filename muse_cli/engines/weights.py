"""The NumPy engine's weights: exported once from a TensorFlow checkpoint, then read without TensorFlow.

``weights.npz`` holds the checkpoint's encoder and decoder variables under their TensorFlow names,
plus ``__muse__``: a JSON record of the format, the checkpoint's identity (sha256 of its data
files, :func:`muse_cli.cache.checkpoint_identity`), the data files' size and mtime at export, the
sha256 of its .index, and the config (name and hparams) its variables were checked against at
export (:func:`muse_cli.engines.check.check_checkpoint`, the check `muse download` makes).
It lives beside the checkpoint (the embedded model ships one) or, where that folder is not
writable, under ``$MUSE_HOME/numpy-weights/``. An export is used only while it belongs to the
checkpoint: same files untouched since export, or else the same sha256; the same .index; the same
config. A stale or foreign one is exported again (that one time imports TensorFlow), never used:
so a muse.json naming another config, or a corrupt .index, meets the same one-line CheckpointError
as on the magenta engine.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np

from muse_cli import settings
from muse_cli.cache import checkpoint_identity, checkpoint_prefix, data_files, file_stats, sha256_of

FILENAME = "weights.npz"
FORMAT = 2  # 2: the .index's sha256 and the config checked at export
META = "__muse__"
_MODEL_SCOPES = ("encoder/", "decoder/", "core_decoder/")  # core_decoder/: a hierarchical model's bar decoders
_SKIP = ("/Adam", "ExponentialMovingAverage", "/Momentum", "/RMSProp")


def locations(checkpoint: Path) -> list[Path]:
    """Where a checkpoint's export may be: beside its files, then in muse's cache."""
    prefix = Path(checkpoint_prefix(checkpoint)).resolve()
    key = hashlib.sha256(str(prefix).encode()).hexdigest()[:24]
    return [prefix.parent / FILENAME, settings.home() / "numpy-weights" / f"{key}.npz"]


def _read(path: Path) -> tuple[dict, dict] | None:
    """(meta, arrays) of an export, or None when it is missing or unreadable. The arrays are mapped from the file
    and copied once into aligned memory: a 700 MB 16-bar model loads in about 0.3 s instead of np.load's 6 s (it
    reads a zip member in small chunks), and BLAS runs on aligned rows (on the mapped, unaligned bytes of an .npz
    the trio decoded 30% slower)."""
    try:
        arrays = _mapped(path)
        meta = json.loads(str(arrays.pop(META)))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, struct.error):  # JSONDecodeError: ValueError
        return None
    return meta, arrays


MAP_FROM = 1 << 20  # arrays of this many bytes or more are memory-mapped; smaller ones are read


def _mapped(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed .npz (np.savez's): each big one copied from a memory map of its bytes."""
    out = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as f:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"{path}: {info.filename} is not a stored .npy")
            f.seek(info.header_offset)
            local = f.read(30)
            if local[:4] != b"PK\x03\x04":
                raise zipfile.BadZipFile(f"{path}: bad local header")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(f)
            shape, fortran, dtype = np.lib.format._read_array_header(f, version)
            if dtype.hasobject:
                raise ValueError(f"{path}: {info.filename} holds Python objects")
            count = int(np.prod(shape, dtype=np.int64))
            order = "F" if fortran else "C"
            if count * dtype.itemsize >= MAP_FROM:
                mapped = np.memmap(path, dtype=dtype, mode="r", offset=f.tell(), shape=shape, order=order)
                array = np.array(mapped, order=order)
                del mapped
            else:
                data = f.read(count * dtype.itemsize)
                array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order=order)
            out[info.filename[: -len(".npy")]] = array
    return out


def _config(config: str | None, hparams: dict | None, checkpoint: Path) -> dict:
    """The config a checkpoint is run with, as an export records it (default: what its muse.json says)."""
    if config is None:
        from muse_cli import registry

        found = registry.resolve(str(checkpoint))
        config, hparams = found.config, found.hparams
    return {"name": config, "hparams": json.loads(json.dumps(dict(hparams or {}), sort_keys=True))}


def _index_sha256(checkpoint: Path) -> str:
    return sha256_of(Path(checkpoint_prefix(checkpoint) + ".index"))


def _belongs(meta: dict, checkpoint: Path, config: dict | None = None) -> bool:
    """Whether an export's record says it was made from these files, checked against ``config`` (default:
    the checkpoint's muse.json's)."""
    if meta.get("format") != FORMAT or meta.get("config") != (config or _config(None, None, checkpoint)):
        return False
    if meta.get("index_sha256") != _index_sha256(checkpoint):
        return False
    if meta.get("files") == file_stats(data_files(checkpoint)):
        return True  # the very files it was exported from, untouched since
    return meta.get("checkpoint_sha256") == checkpoint_identity(checkpoint)


def load(checkpoint: Path, config: str | None = None, hparams: dict | None = None) -> dict[str, np.ndarray]:
    """The checkpoint's variables for the NumPy engine, exported first if no valid export exists.

    ``config``/``hparams``: the magenta config it runs as (default: its muse.json's); an export is
    used only if its variables were checked against this very config."""
    want = _config(config, hparams, checkpoint)
    for path in locations(checkpoint):
        found = _read(path) if path.is_file() else None
        if found is not None and _belongs(found[0], checkpoint, want):
            return found[1]
    return export(checkpoint, want["name"], want["hparams"])


def read_checkpoint(checkpoint: Path) -> dict[str, np.ndarray]:
    """Every model variable of a TensorFlow checkpoint (optimizer slots left out). Imports TensorFlow."""
    from muse_cli.engines.magenta import checkpoint_failure
    from muse_cli.quiet import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    prefix = checkpoint_prefix(checkpoint)
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = sorted(reader.get_variable_to_shape_map())
        return {
            n: np.asarray(reader.get_tensor(n))
            for n in names
            if n.startswith(_MODEL_SCOPES) and not any(s in n for s in _SKIP)
        }
    except Exception as exc:  # TensorFlow's errors are long: keep the line that says what is wrong
        raise checkpoint_failure(checkpoint, exc, otherwise="is unreadable") from None


def to_bytes(arrays: dict[str, np.ndarray], checkpoint: Path, config: str, hparams: dict) -> bytes:
    """An export of ``arrays`` tied to ``checkpoint``'s files and to the config they were checked against."""
    meta = {
        "format": FORMAT,
        "checkpoint_sha256": checkpoint_identity(checkpoint),
        "files": file_stats(data_files(checkpoint)),
        "index_sha256": _index_sha256(checkpoint),
        "config": _config(config, hparams, checkpoint),
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays, **{META: np.array(json.dumps(meta))})
    return buf.getvalue()


def export(checkpoint: Path, config: str | None = None, hparams: dict | None = None) -> dict[str, np.ndarray]:
    """Check the checkpoint's variables against its config, read them with TensorFlow and write the export
    to the first writable location. CheckpointError (one line) when they do not match or cannot be read."""
    from muse_cli.engines.check import check_checkpoint
    from muse_cli.files import atomic_write

    want = _config(config, hparams, checkpoint)
    check_checkpoint(checkpoint, want["name"], want["hparams"])
    arrays = read_checkpoint(checkpoint)
    data = to_bytes(arrays, checkpoint, want["name"], want["hparams"])
    for path in locations(checkpoint):
        try:
            atomic_write(path, data, force=True)
            return arrays
        except OSError:
            continue
    return arrays  # nowhere to keep it: this run works, and the next one exports again
