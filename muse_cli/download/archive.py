"""Unpacking a checkpoint tarball safely, and swapping the unpacked folder into place.

Every member is checked before anything is extracted: no absolute path, no '..', no link,
device or pipe. A killed install leaves only dot-folders (``.NAME.XXXXXXXX.tmp`` / ``.old``)
beside the target, which the next install of that name removes.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from muse_cli.errors import CheckpointError, IntegrityError


def unpack(tarball: Path, dest: Path, label: str) -> Path:
    """Extract a checked tarball into ``dest``; return the folder holding its *.index file."""
    try:
        with tarfile.open(tarball, "r:*") as tar:
            for member in tar.getmembers():
                _check_member(member, label)
            tar.extractall(dest, filter="data")
    except tarfile.ReadError:
        raise IntegrityError(f"{label} is not a tar archive (plain, .gz, .bz2 or .xz); nothing was installed") from None
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        why = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise IntegrityError(f"{label} is not a readable tar archive ({why}); nothing was installed") from None
    folders = sorted({p.parent for p in dest.rglob("*.index")})
    if not folders:
        raise CheckpointError(f"{label} holds no TensorFlow checkpoint (no *.index file); nothing was installed")
    if len(folders) > 1:
        where = ", ".join(str(f.relative_to(dest)) for f in folders)
        raise CheckpointError(
            f"{label} holds checkpoints in several folders ({where}); expected one; nothing was installed"
        )
    return folders[0]


def _check_member(member: tarfile.TarInfo, label: str) -> None:
    name = member.name
    parts = PurePosixPath(name).parts
    why = None
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        why = "has an absolute path"
    elif ".." in parts or ".." in PurePosixPath(name.replace("\\", "/")).parts:
        why = "points outside the target folder ('..')"
    elif member.issym():
        why = f"is a symbolic link (to {member.linkname!r})"
    elif member.islnk():
        why = f"is a hard link (to {member.linkname!r})"
    elif member.isdev():
        why = "is a device or pipe"
    elif not (member.isfile() or member.isdir()):
        why = "is not a regular file or folder"
    if why:
        raise IntegrityError(f"refusing unsafe archive {label}: member {name!r} {why}; nothing was installed")


def remove_stale_unpacks(folder: Path, name: str) -> None:
    """Unpacking folders (.NAME.XXXXXXXX.tmp, .NAME.XXXXXXXX.old) that a killed install of ``name`` left.

    Called under the name's download lock, so no live install of the same name owns them.
    """
    for entry in folder.glob(f".{glob.escape(name)}.*"):
        if entry.is_dir() and entry.suffix in (".tmp", ".old") and len(entry.name) == len(name) + 14:
            shutil.rmtree(entry, ignore_errors=True)


def replace_dir(src: Path, target: Path) -> None:
    """Rename ``src`` to ``target``, moving an existing ``target`` out of the way first."""
    if not target.exists():
        os.rename(src, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rename(target, old / "x")
    try:
        os.rename(src, target)
    except BaseException:
        os.rename(old / "x", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
