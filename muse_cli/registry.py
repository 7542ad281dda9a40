"""The checkpoint registry (checkpoints.toml): name -> Magenta config, URL, sha256, size, location.

A checkpoint is found, in this order, as
1. a path to a checkpoint directory (or a checkpoint prefix) on disk,
2. a name embedded in the package (``embedded = "..."``),
3. a name installed by ``muse download`` under ``$MUSE_HOME/checkpoints/NAME``.
A name that the registry knows but that is not installed is an error that
names the download command. ``MUSE_REGISTRY`` may name an extra TOML file
whose entries are added to (and override) the packaged ones.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from muse_cli import settings
from muse_cli.errors import CheckpointError, CheckpointNotInstalled

MANIFEST = "muse.json"  # written beside installed/trained checkpoints: config, hparams, provenance


@dataclass(frozen=True)
class Entry:
    """One registry entry."""

    name: str
    config: str
    url: str = ""
    sha256: str = ""
    size: int = 0
    description: str = ""
    license: str = ""
    source: str = ""
    embedded: str = ""
    sampling: bool = True
    hparams: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint resolved to files on disk, ready for :func:`muse_cli.model.Model`."""

    name: str
    config: str
    hparams: dict
    path: Path  # a directory holding model.ckpt.index / .data-*
    sha256: str = ""  # identity of the weights (prompt heads are tied to it)
    sampling: bool = True


def _registry_files() -> list[Path]:
    files = [settings.REGISTRY_FILE]
    extra = os.environ.get("MUSE_REGISTRY")
    if extra:
        files.append(Path(extra))
    return files


def load() -> tuple[str, dict[str, Entry]]:
    """(default name, entries by name) from checkpoints.toml and MUSE_REGISTRY."""
    default, entries = "", {}
    for path in _registry_files():
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError(f"registry file {path} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise CheckpointError(f"registry file {path} is not valid TOML: {exc}") from None
        default = data.get("default", default)
        for name, fields in data.get("checkpoints", {}).items():
            known = {k: v for k, v in fields.items() if k in Entry.__dataclass_fields__}
            entries[name] = Entry(name=name, **known)
    return default, entries


def installed_dir(name: str) -> Path:
    return settings.checkpoints_dir() / name


def is_installed(entry: Entry) -> bool:
    if entry.embedded:
        return (settings.EMBEDDED_DIR / entry.embedded).is_dir()
    d = installed_dir(entry.name)
    return d.is_dir() and any(d.glob("*.index"))


_MANIFEST_TYPES = {"name": str, "config": str, "hparams": dict, "sha256": str}


def read_manifest(directory: Path, strict: bool = True) -> dict:
    """A checkpoint's muse.json ({} when there is none); CheckpointError if it is unreadable or mistyped.

    The one reader of muse.json. ``strict=False`` (listings, which show every checkpoint even when
    one file is broken) gives {} instead of the error.
    """
    if not strict:
        try:
            return read_manifest(directory)
        except CheckpointError:
            return {}
    path = Path(directory) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = getattr(exc, "strerror", None) or " ".join(str(exc).split())
        raise CheckpointError(f"{path} is unreadable ({why}); fix it or delete it") from None
    if not isinstance(data, dict):
        raise CheckpointError(
            f'{path} must hold a JSON object such as {{"config": "cat-mel_2bar_big"}}, not a {type(data).__name__}'
        )
    for key, kind in _MANIFEST_TYPES.items():
        if key in data and not isinstance(data[key], kind):
            raise CheckpointError(
                f"{path}: {key!r} must be a JSON {'object' if kind is dict else 'string'}, "
                f"got {json.dumps(data[key])[:40]}"
            )
    return data


def unknown_checkpoint(name: str, entries: dict) -> CheckpointError:
    """The one message for a name that is neither a registry entry nor a checkpoint folder."""
    known = ", ".join(sorted(entries))
    return CheckpointError(
        f"unknown checkpoint {name!r}: not a registry name ({known}) and no checkpoint folder of that name; "
        "see: muse checkpoints"
    )


def resolve(name_or_path: str | None = None) -> Checkpoint:
    """Find a checkpoint by registry name or path; raise CheckpointError with the next step."""
    default, entries = load()
    key = name_or_path or default
    path = Path(key).expanduser()
    if key not in entries and (path.exists() or Path(str(path) + ".index").exists()):
        if path.is_file() and not (
            path.suffix == ".index" or ".data-" in path.name or Path(str(path) + ".index").exists()
        ):
            raise CheckpointError(
                f"{path} is a file, not a checkpoint; give the directory that holds "
                "model.ckpt.index, or a registry name (see: muse checkpoints)"
            )
        directory = path if path.is_dir() else path.parent
        manifest = read_manifest(directory)
        config = manifest.get("config")
        if not config and directory.name in entries:
            config = entries[directory.name].config
        if not config:
            raise CheckpointError(
                f"checkpoint {path} has no {MANIFEST} naming its config; write "
                f'{{"config": "cat-mel_2bar_big"}} (or the right magenta config) into {directory / MANIFEST}'
            )
        return Checkpoint(
            name=manifest.get("name", directory.name),
            config=config,
            hparams=manifest.get("hparams", {}),
            path=path,
            sha256=manifest.get("sha256", ""),
            sampling=True,
        )
    if key not in entries:
        raise unknown_checkpoint(key, entries)
    entry = entries[key]
    if entry.embedded:
        directory = settings.EMBEDDED_DIR / entry.embedded
        if not directory.is_dir():
            raise CheckpointError(
                f"embedded checkpoint {entry.name} is missing from the package ({directory}); reinstall muse"
            )
        return Checkpoint(
            name=entry.name,
            config=entry.config,
            hparams=dict(entry.hparams),
            path=directory,
            sha256=entry.sha256,
            sampling=entry.sampling,
        )
    directory = installed_dir(entry.name)
    if not is_installed(entry):
        raise CheckpointNotInstalled(f"checkpoint {entry.name} is not installed; run: muse download {entry.name}")
    manifest = read_manifest(directory)
    return Checkpoint(
        name=entry.name,
        config=entry.config,
        hparams={**entry.hparams, **manifest.get("hparams", {})},
        path=directory,
        sha256=manifest.get("sha256") or entry.sha256,
        sampling=entry.sampling,
    )
