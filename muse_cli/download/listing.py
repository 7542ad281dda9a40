"""`muse checkpoints` (and its alias `muse download --list`): known and installed checkpoints with their sizes.

A checkpoint's size is what checkpoints.toml says (the tarball of a download, the model.ckpt files of the
embedded model); where it says nothing (Magenta publishes no sizes), the installed model.ckpt files, else
unknown (0). The files beside an installed checkpoint (the NumPy engine's weights.npz, a prompt head) count
in ``disk_size`` only.
"""

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
    size: int  # bytes of the checkpoint (see the module), 0 when unknown
    disk_size: int  # bytes of everything in its folder, 0 when not installed
    sha256: str
    trust: str
    description: str
    default: bool = False
    playable: bool = False  # a config muse plays (muse_cli.families.FAMILIES)
    family: str = ""  # melody, drums, groove, melody over chords, 16-bar melody, 16-bar trio
    commands: tuple = ()  # the muse commands that play it

    @property
    def state(self) -> str:
        if self.embedded:
            return "embedded"
        if self.installed:
            return "installed" if self.known else "local"
        return "not installed"


def list_checkpoints() -> list[Listing]:
    """Every registry checkpoint in the registry's order, then checkpoints installed under names it lacks."""
    default, entries = registry.load()
    rows = [_known(entry, entry.name == default) for entry in entries.values()]
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


def _known(entry: registry.Entry, default: bool) -> Listing:
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
        size=entry.size or (_model_size(path) if path else 0),
        disk_size=_disk_size(path) if path else 0,
        sha256=manifest.get("sha256") or entry.sha256,
        trust=manifest.get("trust", ""),
        description=entry.description,
        default=default,
        **_family_fields(entry.config),
    )


def _family_fields(config: str) -> dict:
    """What a listing says of what muse can do with ``config``."""
    from muse_cli.families import FAMILIES

    fam = FAMILIES.get(config)
    if fam is None:
        return {}
    return {"playable": True, "family": fam.name, "commands": (*fam.commands, *fam.verbs)}


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
        size=_model_size(folder),
        disk_size=_disk_size(folder),
        sha256=manifest.get("sha256", ""),
        trust=manifest.get("trust", ""),
        description="",
        **_family_fields(manifest.get("config", "")),
    )


def _model_size(path: Path) -> int:
    """Bytes of a checkpoint folder's model.ckpt files (.index and .data-*)."""
    return sum(p.stat().st_size for p in Path(path).glob("*.ckpt*") if p.is_file())


def _disk_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
