"""A checkpoint's files on disk: its prefix, its data files, and its identity (sha256 of the weights).

The identity ties derived files to the exact weights they were made from: a prompt head, and the
NumPy engine's exported weights. Hashing a 538 MB checkpoint takes over a second, so a hash is
remembered per process, keyed by each file's path, size and modification time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from muse_cli.errors import CheckpointError

_IDENTITY: dict[tuple, str] = {}


def checkpoint_prefix(path: Path) -> str:
    """The checkpoint prefix inside a directory (or the prefix itself)."""
    path = Path(path)
    if path.is_dir():
        indexes = sorted(path.glob("*.index"), key=lambda p: p.stat().st_mtime)
        if not indexes:
            raise CheckpointError(
                f"checkpoint directory {path} has no *.index file; "
                "it needs model.ckpt.index and model.ckpt.data-* files"
            )
        prefix = str(indexes[-1])[: -len(".index")]
    else:
        prefix = str(path)
    if not Path(prefix + ".index").exists() or not list(Path(prefix).parent.glob(Path(prefix).name + ".data-*")):
        raise CheckpointError(f"checkpoint {prefix} is missing its .index or .data-* file")
    return prefix


def data_files(checkpoint: Path) -> list[Path]:
    """The model.ckpt.data-* file(s) of a checkpoint directory or prefix."""
    prefix = Path(checkpoint_prefix(Path(checkpoint)))
    return sorted(prefix.parent.glob(prefix.name + ".data-*"))


def file_stats(files: list[Path]) -> list[list]:
    """[name, size, mtime_ns] of each file: what :func:`checkpoint_identity` is remembered by."""
    return [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checkpoint_identity(checkpoint: Path) -> str:
    """sha256 of the checkpoint's weights: of its one .data-* file, or of all of them in name order."""
    files = data_files(checkpoint)
    key = tuple((str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    if key not in _IDENTITY:
        h = hashlib.sha256()
        for f in files:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        _IDENTITY[key] = h.hexdigest()
    return _IDENTITY[key]


def check_identity(recorded, checkpoint: Path, what: str, hint: str) -> None:
    """CheckpointError unless ``recorded`` is ``checkpoint``'s identity: ``what`` (a file made for a checkpoint)
    was made for another one; ``hint`` is the command that makes it again."""
    identity = checkpoint_identity(checkpoint)
    if recorded != identity:
        raise CheckpointError(
            f"{what} was made for another checkpoint (sha256 {str(recorded)[:12]}, this one is {identity[:12]}); "
            f"make it again with: {hint}"
        )
