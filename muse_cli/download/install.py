"""Install a registry checkpoint into the cache: fetch (or take a tarball on disk), verify, unpack, check, move.

Each name is installed under its own lock (:mod:`muse_cli.download.lock`); a second process
installing the same name waits, then finds it installed and reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from muse_cli import registry, settings
from muse_cli.download import archive, pins
from muse_cli.download.lock import locked
from muse_cli.download.transfer import Event, Report, Retry, Transient, check_disk, discard, fetch, hash_file
from muse_cli.engines.check import check_checkpoint
from muse_cli.errors import CheckpointError, DownloadError, IntegrityError

MAGENTA_BASE = "https://storage.googleapis.com/magentadata"  # what MUSE_MIRROR replaces
TRUST_REGISTRY, TRUST_FIRST_USE = "registry", "first-use"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Installed:
    """A checkpoint in the cache, as download() / install_file() leave it."""

    name: str
    path: Path
    config: str
    url: str
    sha256: str
    size: int  # bytes of the tarball
    trust: str  # "registry" | "first-use"
    reused: bool = False  # it was installed already: nothing was fetched
    recorded: bool = False  # this install recorded its sha256 for the first time
    sampling: bool = True


def source_url(entry: registry.Entry, url: str | None = None) -> str:
    """The URL to fetch ``entry`` from: ``url``, else the registry's with MUSE_MIRROR applied."""
    if url:
        chosen = url
    elif entry.url:
        chosen = entry.url
        mirror = settings.mirror()
        if mirror and (chosen == MAGENTA_BASE or chosen.startswith(MAGENTA_BASE + "/")):
            chosen = mirror.rstrip("/") + chosen[len(MAGENTA_BASE) :]
    else:
        raise DownloadError(
            f"checkpoint {entry.name} has no url in the registry; "
            f"give one with: muse download {entry.name} --url URL (or --file TAR)"
        )
    if urllib.parse.urlsplit(chosen).scheme not in ("http", "https"):
        raise DownloadError(
            f"cannot download {chosen!r}: only http:// and https:// URLs are supported "
            "(use --file for a tarball on disk)"
        )
    return chosen


def download(
    name: str, *, url: str | None = None, force: bool = False, retry: Retry = Retry(), report: Report | None = None
) -> Installed:
    """Download, verify, unpack, check and install registry checkpoint ``name``."""
    emit = report or (lambda event: None)
    entry = _entry(name)
    if entry.embedded:  # ships inside the package: nothing to fetch
        return _result(entry, settings.EMBEDDED_DIR / entry.embedded, reused=True)
    src = source_url(entry, url)
    _check_home()
    pins.known_hashes()  # an unreadable pin file stops here, before any byte is fetched
    downloads = settings.downloads_dir()
    with locked(downloads / f"{name}.lock", emit, f"another muse download of {name}"):
        if not force and registry.is_installed(entry):
            return _result(entry, registry.installed_dir(name), reused=True)
        part = downloads / f"{name}.tar.part"
        try:
            sha, size = fetch(src, part, entry.size, retry, emit)
        except Transient as exc:
            raise _failed(name, src, url, part, retry, exc) from None
        except KeyboardInterrupt:
            raise  # an interrupted transfer keeps its partial file for the next run
        except BaseException:
            discard(part)
            raise
        try:
            return _verify_and_install(entry, part, sha, size, src, emit)
        finally:
            discard(part)


def _failed(name: str, src: str, url: str | None, part: Path, retry: Retry, exc: Transient) -> DownloadError:
    """The error for a transfer whose retries are spent: resume advice when a partial file is kept."""
    held = part.stat().st_size if part.exists() else 0
    if held:
        return DownloadError(
            f"download of {name} failed after {retry.retries + 1} tries: {exc}; "
            f"run the same command again to resume from byte {held} "
            f"(partial file kept: {part})"
        )
    discard(part)
    advice = (
        f"check the connection or the mirror MUSE_MIRROR={settings.mirror()}, or give --url URL"
        if settings.mirror() and not url
        else "check the connection or use a mirror (--url URL or MUSE_MIRROR)"
    )
    return DownloadError(f"download of {name} from {src} failed after {retry.retries + 1} tries: {exc}; {advice}")


def install_file(name: str, tarball: Path, *, force: bool = False, report: Report | None = None) -> Installed:
    """Install registry checkpoint ``name`` from a tarball on disk (verified like a download)."""
    emit = report or (lambda event: None)
    entry = _entry(name)
    tarball = Path(tarball).expanduser().resolve()
    if not tarball.is_file():
        raise DownloadError(f"{tarball} is not a file; give the path of a checkpoint tarball")
    if entry.embedded:
        raise CheckpointError(f"checkpoint {name} ships inside muse; there is nothing to install")
    _check_home()
    pins.known_hashes()  # an unreadable pin file stops here, before anything is unpacked
    with locked(settings.downloads_dir() / f"{name}.lock", emit, f"another muse download of {name}"):
        if not force and registry.is_installed(entry):
            return _result(entry, registry.installed_dir(name), reused=True)
        emit(Event("verifying", f"hashing {tarball}"))
        hasher = hashlib.sha256()
        hash_file(hasher, tarball)
        return _verify_and_install(entry, tarball, hasher.hexdigest(), tarball.stat().st_size, tarball.as_uri(), emit)


def _entry(name: str) -> registry.Entry:
    _, entries = registry.load()
    if name not in entries:
        raise registry.unknown_checkpoint(name, entries)
    if not _NAME.fullmatch(name):
        raise CheckpointError(f"registry name {name!r} cannot be a folder name; use letters, digits, '.', '_', '-'")
    return entries[name]


def _result(entry: registry.Entry, path: Path, reused: bool) -> Installed:
    manifest = registry.read_manifest(path, strict=False)
    return Installed(
        name=entry.name,
        path=path,
        config=entry.config,
        url=manifest.get("url", entry.url),
        sha256=manifest.get("sha256") or entry.sha256,
        size=int(manifest.get("size", 0) or entry.size),
        reused=reused,
        trust=manifest.get("trust", TRUST_REGISTRY),
        sampling=entry.sampling,
    )


def _verify_and_install(entry: registry.Entry, tarball: Path, sha: str, size: int, url: str, emit: Report) -> Installed:
    """Check sha256 and size, unpack beside the target, check the variables, move into place."""
    name = entry.name
    emit(Event("verifying", "verifying sha256"))
    trust, known = _verify(entry, sha, size)
    target = registry.installed_dir(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    archive.remove_stale_unpacks(target.parent, name)
    check_disk(target.parent, need=size)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent))
    from muse_cli.files import umask

    os.chmod(tmp, 0o777 & ~umask())  # mkdtemp's 0700 would hide the install from others sharing MUSE_HOME
    try:
        emit(Event("unpacking", f"unpacking into {target.parent}"))
        folder = archive.unpack(tarball, tmp, f"{name}.tar")
        _prepare(entry, folder, emit)
        manifest = {
            "name": name,
            "config": entry.config,
            "hparams": dict(entry.hparams),
            "url": url,
            "sha256": sha,
            "size": size,
            "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "trust": trust,
        }
        (folder / registry.MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        archive.replace_dir(folder, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    recorded = trust == TRUST_FIRST_USE and not known
    if recorded:
        pins.remember_hash(name, sha, size, url)
    emit(Event("installed", f"installed {name} in {target}"))
    return Installed(name, target, entry.config, url, sha, size, trust, recorded=recorded, sampling=entry.sampling)


def _verify(entry: registry.Entry, sha: str, size: int) -> tuple[str, str]:
    """(trust, first-use hash recorded before) once ``sha`` and ``size`` match what is expected of ``entry``."""
    name = entry.name
    known = pins.known_hashes().get(name, {}).get("sha256", "")
    if entry.sha256:
        trust, expected, source = TRUST_REGISTRY, entry.sha256.lower(), "the registry"
    else:
        trust, expected = TRUST_FIRST_USE, known
        source = f"the hash recorded on first use in {settings.known_hashes_file()}"
    if expected and sha != expected:
        hint = (
            (f"if the new file is the right one, delete its entry from {settings.known_hashes_file()}")
            if trust == TRUST_FIRST_USE
            else "the download is corrupt or the file changed; try again or check the registry"
        )
        raise IntegrityError(
            f"sha256 of {name} is {sha}, expected {expected} from {source}; nothing was installed; {hint}"
        )
    if entry.size and size != entry.size:
        raise IntegrityError(f"{name} is {size} bytes, the registry says {entry.size}; nothing was installed")
    return trust, known


def _prepare(entry: registry.Entry, folder: Path, emit: Report) -> None:
    """Check the unpacked variables against the config; export the NumPy engine's weights of a sampling model."""
    emit(Event("checking", f"checking variables against config {entry.config}"))
    check_checkpoint(folder, entry.config, dict(entry.hparams), name=entry.name)
    if entry.sampling:  # made now, while TensorFlow is loaded anyway, rather than on first use
        from muse_cli.engines import weights

        emit(Event("exporting", "exporting the weights for the NumPy engine"))
        weights.export(folder, entry.config, dict(entry.hparams))


def _check_home() -> None:
    """MUSE_HOME must be (or be able to become) a writable folder before anything is fetched."""
    from muse_cli.files import check_folder

    check_folder(settings.home(), f"MUSE_HOME {settings.home()}")
