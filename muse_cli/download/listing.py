"""`muse download --list`: known and installed checkpoints with their sizes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from muse_cli import registry, settings


@dataclass(frozen=True)
class Listing:
    """One row of list_checkpoints()."""

    name: str
    config: str
    known: bool  # in the registry
    installed: bool
    embedded: bool
    path: Path | None
    download_size: int  # bytes of the tarball, 0 when unknown
    disk_size: int  # bytes installed, 0 when not installed
    sha256: str
    trust: str
    description: str


def list_checkpoints() -> list[Listing]:
    """Every registry checkpoint, then checkpoints installed under names the registry lacks."""
    _, entries = registry.load()
    rows = [_known(entry) for _, entry in sorted(entries.items())]
    root = settings.checkpoints_dir()
    extra = (
        sorted(
            d
            for d in root.iterdir()
            if d.is_dir() and not d.name.startswith(".") and d.name not in entries and any(d.glob("*.index"))
        )
        if root.is_dir()
        else []
    )
    return rows + [_local(d) for d in extra]


def _known(entry: registry.Entry) -> Listing:
    installed = registry.is_installed(entry)
    path = None
    if installed:
        path = settings.EMBEDDED_DIR / entry.embedded if entry.embedded else registry.installed_dir(entry.name)
    manifest = registry.read_manifest(path, strict=False) if path else {}
    return Listing(
        name=entry.name,
        config=entry.config,
        known=True,
        installed=installed,
        embedded=bool(entry.embedded),
        path=path,
        download_size=entry.size or int(manifest.get("size", 0) or 0),
        disk_size=_disk_size(path) if path else 0,
        sha256=manifest.get("sha256") or entry.sha256,
        trust=manifest.get("trust", ""),
        description=entry.description,
    )


def _local(folder: Path) -> Listing:
    """A checkpoint installed under a name the registry lacks."""
    manifest = registry.read_manifest(folder, strict=False)
    return Listing(
        name=folder.name,
        config=manifest.get("config", ""),
        known=False,
        installed=True,
        embedded=False,
        path=folder,
        download_size=int(manifest.get("size", 0) or 0),
        disk_size=_disk_size(folder),
        sha256=manifest.get("sha256", ""),
        trust=manifest.get("trust", ""),
        description="",
    )


def _disk_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
