"""Fetch, resume, verify, unpack and install checkpoints into the cache.

    download(name)            registry name -> $MUSE_HOME/checkpoints/NAME
    install_file(name, tar)   the same from a tarball already on disk
    list_checkpoints()        known and installed checkpoints with their sizes
    check_checkpoint(...)     a checkpoint's variables against its config's

Where a download comes from: ``url=`` (``--url``) replaces the registry's URL
outright. Otherwise ``MUSE_MIRROR`` replaces the prefix :data:`MAGENTA_BASE`
(``https://storage.googleapis.com/magentadata``, no trailing slash) of a
registry URL, keeping the rest of the path: with ``MUSE_MIRROR=http://m.lan/magenta``
``.../magentadata/models/music_vae/checkpoints/cat-mel_2bar_big.tar`` is fetched
from ``http://m.lan/magenta/models/music_vae/checkpoints/cat-mel_2bar_big.tar``.
URLs that do not start with that prefix are left alone.

What is left on disk after a failure: nothing, except after a transient
failure (connection cut, timeout, 5xx once the retries are spent, Ctrl-C) in
the middle of a transfer. Then ``downloads/NAME.tar.part`` (and its
``.part.json`` note of the URL) is kept so that the next run resumes it with an
HTTP ``Range`` request; a server that answers 200 instead of 206 makes it start
over. A wrong sha256, an unsafe archive or a checkpoint that does not fit its
config removes everything.

Trust: the sha256 is computed while the bytes stream in (a resumed file's
existing part is hashed first), never by reading the finished file again. A
registry sha256 must match it. Without one the hash (which the CLI prints) is
recorded in the install manifest (``trust: "first-use"``) and in
``known_hashes.json`` under MUSE_HOME; every later download of that name
(``--force`` included) must match it.

Two processes installing one name take turns on ``downloads/NAME.lock``
(fcntl.flock); the second finds the checkpoint installed and reuses it.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import http.client
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from muse_cli import __version__, registry, settings
from muse_cli.errors import CheckpointError, DownloadError, IntegrityError

MAGENTA_BASE = "https://storage.googleapis.com/magentadata"  # what MUSE_MIRROR replaces
CHUNK_BYTES = 1 << 16
USER_AGENT = f"muse/{__version__}"
TRUST_REGISTRY, TRUST_FIRST_USE = "registry", "first-use"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Retry:
    """How hard to try: ``retries`` more attempts after the first, waiting
    ``backoff`` seconds before the first retry and twice as long before each next
    one (at most ``max_backoff``); ``timeout`` seconds to connect and between bytes."""

    retries: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0
    timeout: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff * 2 ** (attempt - 1), self.max_backoff)


@dataclass(frozen=True)
class Event:
    """A state change (``state`` != "bytes": show ``message``) or bytes received."""

    # waiting connecting downloading resuming restarting retrying bytes verifying unpacking checking exporting
    # installed
    state: str
    message: str = ""
    done: int = 0
    total: int | None = None


Report = Callable[[Event], None]


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


class _Transient(Exception):
    """A failure worth retrying: connection refused or cut, timeout, 5xx."""


class _Restart(Exception):
    """The partial file cannot be resumed: start over at once."""


# ---------------------------------------------------------------- public API


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
    _known_hashes()  # an unreadable pin file stops here, before any byte is fetched
    downloads = settings.downloads_dir()
    with _locked(downloads / f"{name}.lock", emit, f"another muse download of {name}"):
        if not force and registry.is_installed(entry):
            return _result(entry, registry.installed_dir(name), reused=True)
        part = downloads / f"{name}.tar.part"
        try:
            sha, size = _fetch(src, part, entry.size, retry, emit)
        except _Transient as exc:
            held = part.stat().st_size if part.exists() else 0
            if not held:
                _discard(part)
                advice = (
                    f"check the connection or the mirror MUSE_MIRROR={settings.mirror()}, or give --url URL"
                    if settings.mirror() and not url
                    else "check the connection or use a mirror (--url URL or MUSE_MIRROR)"
                )
                raise DownloadError(
                    f"download of {name} from {src} failed after {retry.retries + 1} tries: {exc}; {advice}"
                ) from None
            raise DownloadError(
                f"download of {name} failed after {retry.retries + 1} tries: {exc}; "
                f"run the same command again to resume from byte {held} "
                f"(partial file kept: {part})"
            ) from None
        except KeyboardInterrupt:
            raise  # an interrupted transfer keeps its partial file for the next run
        except BaseException:
            _discard(part)
            raise
        try:
            return _verify_and_install(entry, part, sha, size, src, emit)
        finally:
            _discard(part)


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
    _known_hashes()  # an unreadable pin file stops here, before anything is unpacked
    with _locked(settings.downloads_dir() / f"{name}.lock", emit, f"another muse download of {name}"):
        if not force and registry.is_installed(entry):
            return _result(entry, registry.installed_dir(name), reused=True)
        emit(Event("verifying", f"hashing {tarball}"))
        hasher = hashlib.sha256()
        _hash_into(hasher, tarball)
        return _verify_and_install(entry, tarball, hasher.hexdigest(), tarball.stat().st_size, tarball.as_uri(), emit)


def list_checkpoints() -> list[Listing]:
    """Every registry checkpoint, then checkpoints installed under names the registry lacks."""
    _, entries = registry.load()
    rows = []
    for name, entry in sorted(entries.items()):
        installed = registry.is_installed(entry)
        path = None
        if installed:
            path = settings.EMBEDDED_DIR / entry.embedded if entry.embedded else registry.installed_dir(name)
        manifest = registry.read_manifest(path, strict=False) if path else {}
        rows.append(
            Listing(
                name=name,
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
        )
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
    for d in extra:
        manifest = registry.read_manifest(d, strict=False)
        rows.append(
            Listing(
                name=d.name,
                config=manifest.get("config", ""),
                known=False,
                installed=True,
                embedded=False,
                path=d,
                download_size=int(manifest.get("size", 0) or 0),
                disk_size=_disk_size(d),
                sha256=manifest.get("sha256", ""),
                trust=manifest.get("trust", ""),
                description="",
            )
        )
    return rows


def check_checkpoint(path: Path, config: str, hparams: dict | None = None, name: str | None = None) -> None:
    """Raise CheckpointError unless the checkpoint at ``path`` (a directory or prefix) holds
    exactly the variables, by name and shape, of magenta config ``config`` with ``hparams``.

    Variables the config does not create (global_step, optimizer slots, other training
    leftovers) are ignored: magenta's restore never reads them. Imports TensorFlow.
    """
    from muse_cli.cache import checkpoint_prefix
    from muse_cli.engines.magenta import quiet_tensorflow

    label = name or str(path)
    try:
        prefix = checkpoint_prefix(Path(path))
    except CheckpointError:
        if not name:
            raise
        # ``path`` is a temporary unpacking folder, gone by the time the user reads this: name the archive
        raise CheckpointError(
            f"checkpoint {name} is incomplete: the archive has no model.ckpt.data-* file "
            "beside its .index; nothing was installed"
        ) from None
    quiet_tensorflow()
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except (tf.errors.OpError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {label} is unreadable: {first}") from None
    expected = _config_variables(config, hparams or {})
    got = {k: list(v) for k, v in shapes.items()}
    problems = []
    for var, shape in expected.items():  # in the order the model creates them: encoder first
        if var not in got:
            problems.append(f"{var} is missing, expected {shape}")
        elif got[var] != shape:
            problems.append(f"{var} is {got[var]}, expected {shape}")
    if problems:
        more = f" (and {len(problems) - 1} more differences)" if len(problems) > 1 else ""
        raise CheckpointError(f"checkpoint {label} does not match config {config}: {problems[0]}{more}")
    need = 0
    for var, shape in shapes.items():
        dtype = dtypes[var]
        if dtype != tf.string:
            count = 1
            for dim in shape:
                count *= dim
            need += count * dtype.size
    have = sum(p.stat().st_size for p in Path(prefix).parent.glob(Path(prefix).name + ".data-*"))
    if have < need:
        raise CheckpointError(
            f"checkpoint {label} is truncated: its data files hold {have} bytes, "
            f"its variables need {need}; download it again with --force"
        )


# ---------------------------------------------------------------- steps


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


def _fetch(url: str, part: Path, expected_size: int, retry: Retry, emit: Report) -> tuple[str, int]:
    """Stream ``url`` into ``part`` (resuming it if it belongs to ``url``); return (sha256, size)."""
    part.parent.mkdir(parents=True, exist_ok=True)
    note = part.with_name(part.name + ".json")
    if part.exists():
        try:
            noted = json.loads(note.read_text())
        except (OSError, ValueError):
            noted = {}
        if noted.get("url") != url:  # a partial file of another URL (or of unknown origin)
            _discard(part)
    hashed = [hashlib.sha256(), 0]  # the hash of part's first hashed[1] bytes, kept across tries
    attempt = 0
    while True:
        attempt += 1
        try:
            return _fetch_once(url, part, note, expected_size, retry.timeout, hashed, emit)
        except _Restart:
            _discard(part)
            hashed[:] = [hashlib.sha256(), 0]
            attempt -= 1
        except _Transient as exc:
            if attempt > retry.retries:
                raise
            delay = retry.delay(attempt)
            emit(Event("retrying", f"{exc}; retrying in {delay:.1f} s (try {attempt + 1} of {retry.retries + 1})"))
            time.sleep(delay)


def _fetch_once(
    url, part: Path, note: Path, expected_size: int, timeout: float, hashed: list, emit: Report
) -> tuple[str, int]:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        validator = _read_json(note).get("validator")
        if validator:
            headers["If-Range"] = validator
    host = urllib.parse.urlsplit(url).netloc
    emit(Event("connecting", f"connecting to {host}"))
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and have:
            total = _range_total(exc.headers.get("Content-Range", ""))
            if total == have:  # the partial file is already whole
                _hash_part(part, hashed)
                return hashed[0].hexdigest(), have
            raise _Restart() from None
        if exc.code >= 500 or exc.code in (408, 429):
            raise _Transient(f"{host} answered HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(
            f"{url} answered HTTP {exc.code} {exc.reason}; check the checkpoint name and the URL (--url, MUSE_MIRROR)"
        ) from None
    except urllib.error.URLError as exc:
        if not isinstance(exc.reason, OSError):
            raise DownloadError(f"cannot download {url}: {exc.reason}") from None
        raise _Transient(f"cannot connect to {host}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Transient(f"cannot connect to {host}: {exc}") from None
    with response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if response.status == 206 and have:
            match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", "").strip())
            if not match or int(match.group(1)) != have:
                raise _Restart()
            total = int(match.group(3)) if match.group(3) != "*" else None
            emit(
                Event(
                    "resuming",
                    f"resuming at byte {have} of {total if total is not None else '?'}",
                    done=have,
                    total=total,
                )
            )
            _hash_part(part, hashed)
            mode = "ab"
        elif response.status == 200:
            if have:
                emit(Event("restarting", f"{host} ignored the Range request (HTTP 200): starting over"))
            have, total, mode = 0, length, "wb"
            hashed[:] = [hashlib.sha256(), 0]
            emit(
                Event(
                    "downloading",
                    f"downloading {total} bytes" if total is not None else "downloading (size unknown)",
                    total=total,
                )
            )
        else:
            raise DownloadError(f"{url} answered HTTP {response.status}, expected 200 or 206")
        if expected_size and total is not None and total != expected_size:
            raise IntegrityError(
                f"{url} offers {total} bytes but the registry says {expected_size}; "
                "the file changed or the URL is wrong; nothing was installed"
            )
        if total is not None:
            _check_disk(part.parent, need=(total - have) + total)
        note.write_text(
            json.dumps(
                {
                    "url": url,
                    "total": total,
                    "validator": response.headers.get("ETag") or response.headers.get("Last-Modified"),
                }
            )
        )
        done = have
        with open(part, mode) as out:
            while True:
                try:
                    chunk = response.read1(CHUNK_BYTES)
                except TimeoutError:
                    raise _Transient(f"no data for {timeout:g} s at byte {done} of {total}") from None
                except (OSError, http.client.HTTPException) as exc:
                    raise _Transient(f"connection cut at byte {done} of {total}: {exc}") from None
                if not chunk:
                    break
                out.write(chunk)
                out.flush()  # what was received is on disk if this process dies
                hashed[0].update(chunk)
                hashed[1] += len(chunk)
                done += len(chunk)
                emit(Event("bytes", done=done, total=total))
    if total is not None and done < total:
        raise _Transient(f"connection cut at byte {done} of {total}")
    if total is not None and done > total:
        raise IntegrityError(f"{url} sent {done} bytes after announcing {total}; nothing was installed")
    return hashed[0].hexdigest(), done


def _verify_and_install(entry: registry.Entry, tarball: Path, sha: str, size: int, url: str, emit: Report) -> Installed:
    """Check sha256 and size, unpack beside the target, check the variables, move into place."""
    name = entry.name
    emit(Event("verifying", "verifying sha256"))
    known = _known_hashes().get(name, {}).get("sha256", "")
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
    target = registry.installed_dir(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_unpacks(target.parent, name)
    _check_disk(target.parent, need=size)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent))
    from muse_cli.files import umask

    os.chmod(tmp, 0o777 & ~umask())  # mkdtemp's 0700 would hide the install from others sharing MUSE_HOME
    try:
        emit(Event("unpacking", f"unpacking into {target.parent}"))
        folder = _unpack(tarball, tmp, f"{name}.tar")
        emit(Event("checking", f"checking variables against config {entry.config}"))
        check_checkpoint(folder, entry.config, dict(entry.hparams), name=name)
        if entry.sampling:  # made now, while TensorFlow is loaded anyway, rather than on first use
            from muse_cli.engines import weights

            emit(Event("exporting", "exporting the weights for the NumPy engine"))
            weights.export(folder)
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
        _replace_dir(folder, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    recorded = trust == TRUST_FIRST_USE and not known
    if recorded:
        _remember_hash(name, sha, size, url)
    emit(Event("installed", f"installed {name} in {target}"))
    return Installed(
        name=name,
        path=target,
        config=entry.config,
        url=url,
        sha256=sha,
        size=size,
        trust=trust,
        recorded=recorded,
        sampling=entry.sampling,
    )


def _unpack(tarball: Path, dest: Path, label: str) -> Path:
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


def _remove_stale_unpacks(folder: Path, name: str) -> None:
    """Unpacking folders (.NAME.XXXXXXXX.tmp, .NAME.XXXXXXXX.old) that a killed install of ``name`` left.

    Called under the name's download lock, so no live install of the same name owns them.
    """
    for entry in folder.glob(f".{glob.escape(name)}.*"):
        if entry.is_dir() and entry.suffix in (".tmp", ".old") and len(entry.name) == len(name) + 14:
            shutil.rmtree(entry, ignore_errors=True)


def _replace_dir(src: Path, target: Path) -> None:
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


# ---------------------------------------------------------------- helpers

_VARIABLES: dict[tuple[str, str], dict[str, list[int]]] = {}


def _config_variables(config: str, hparams: dict) -> dict[str, list[int]]:
    """name -> shape of the variables magenta's model for ``config`` creates (cached)."""
    key = (config, json.dumps(hparams, sort_keys=True))
    if key in _VARIABLES:
        return _VARIABLES[key]
    import tensorflow.compat.v1 as tf
    from magenta.models.music_vae import configs as magenta_configs

    from muse_cli.configs import any_config, create_variables

    if config not in magenta_configs.CONFIG_MAP:
        raise CheckpointError(f"config {config!r} is not one of magenta's MusicVAE configs; fix the registry entry")
    try:
        cfg = any_config(config, hparams)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"bad hparams for config {config} in the registry: {exc}") from None
    with tf.Graph().as_default() as graph:
        create_variables(cfg)
        shapes = {
            v.op.name: v.shape.as_list()
            for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
            if v.op.name != "global_step"
        }
    _VARIABLES[key] = shapes
    return shapes


@contextmanager
def _locked(path: Path, emit: Report, holder: str) -> Iterator[None]:
    """Hold an exclusive flock on ``path``; the file is removed on release."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                emit(Event("waiting", f"waiting for {holder} to finish (lock {path})"))
                fcntl.flock(fd, fcntl.LOCK_EX)
            # The previous holder removes the file when it is done: lock the file that is there now.
            try:
                mine = os.fstat(fd)
                there = os.stat(path)
                if (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino):
                    break
            except FileNotFoundError:
                pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)


def _check_home() -> None:
    """MUSE_HOME must be (or be able to become) a writable folder before anything is fetched."""
    from muse_cli.files import check_folder

    check_folder(settings.home(), f"MUSE_HOME {settings.home()}")


def _known_hashes() -> dict:
    """The trust-on-first-use pins; a pin file that cannot be read stops the download (never read as empty)."""
    path = settings.known_hashes_file()
    reset = f"fix it, or delete it to trust the next download anew: rm {path}"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:80]
        raise IntegrityError(
            f"the pin file {path} is unreadable ({why}), so first-use hashes cannot be checked; {reset}"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("sha256", ""), str) for v in data.values()
    ):
        raise IntegrityError(
            f'the pin file {path} is not a JSON object of {{name: {{"sha256": ...}}}}, so '
            f"first-use hashes cannot be checked; {reset}"
        )
    return data


def _remember_hash(name: str, sha: str, size: int, url: str) -> None:
    path = settings.known_hashes_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock"), lambda event: None, "another muse process"):
        known = _known_hashes()
        known[name] = {
            "sha256": sha,
            "size": size,
            "url": url,
            "first_seen": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _hash_into(hasher, path: Path, start: int = 0) -> None:
    with open(path, "rb") as f:
        f.seek(start)
        while chunk := f.read(1 << 20):
            hasher.update(chunk)


def _hash_part(part: Path, hashed: list) -> None:
    """Bring hashed = [sha256, n] up to the whole of ``part`` (only the bytes not hashed yet)."""
    size = part.stat().st_size
    if hashed[1] > size:
        hashed[:] = [hashlib.sha256(), 0]
    _hash_into(hashed[0], part, start=hashed[1])
    hashed[1] = size


def _range_total(content_range: str) -> int | None:
    match = re.search(r"/(\d+)\s*$", content_range)
    return int(match.group(1)) if match else None


def _check_disk(folder: Path, need: int) -> None:
    free = shutil.disk_usage(folder).free
    if need > free:
        raise DownloadError(
            f"not enough disk space in {folder}: need {_mb(need)} (download and unpacked "
            f"copy), {_mb(free)} free; free some space or set MUSE_HOME to a bigger disk"
        )


def _discard(part: Path) -> None:
    for p in (part, part.with_name(part.name + ".json")):
        p.unlink(missing_ok=True)


def _disk_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
