"""HTTP transfer of one file into ``NAME.tar.part``, resumable with a ``Range`` request.

:func:`fetch` streams a URL into a partial file beside its target, hashing the bytes as they
arrive. A transient failure (connection refused or cut, timeout, 5xx, 408, 429) is retried with
doubling waits; the partial file is kept so that the next try (or the next run) asks only for
the bytes it lacks. ``If-Range`` carries the first answer's ETag or Last-Modified, so a file
that changed on the server comes back whole (HTTP 200) and the transfer starts over; so does an
answer whose ``Content-Range`` does not start where the partial file ends. A ``.part.json``
note beside the partial file records its URL: a partial file of another URL is discarded.
pooch and urllib alone do neither the resume nor the restart.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from muse_cli.errors import DownloadError, IntegrityError
from muse_cli.settings import VERSION

CHUNK_BYTES = 1 << 16
USER_AGENT = f"muse/{VERSION}"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


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


class Transient(Exception):
    """A failure worth retrying: connection refused or cut, timeout, 5xx."""


class _Restart(Exception):
    """The partial file cannot be resumed: start over at once."""


class _Hash:
    """The sha256 of a partial file's first ``n`` bytes, kept across tries."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.sha, self.n = hashlib.sha256(), 0

    def catch_up(self, part: Path) -> None:
        """Hash the bytes of ``part`` not hashed yet (all of it if it shrank)."""
        size = part.stat().st_size
        if self.n > size:
            self.reset()
        hash_file(self.sha, part, start=self.n)
        self.n = size

    def update(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.n += len(chunk)


def fetch(url: str, part: Path, expected_size: int, retry: Retry, emit: Report) -> tuple[str, int]:
    """Stream ``url`` into ``part`` (resuming it if it belongs to ``url``); return (sha256, size)."""
    part.parent.mkdir(parents=True, exist_ok=True)
    note = part.with_name(part.name + ".json")
    if part.exists() and read_json(note).get("url") != url:  # a partial file of another URL (or of unknown origin)
        discard(part)
    hashed = _Hash()
    attempt = 0
    while True:
        attempt += 1
        try:
            return _fetch_once(url, part, note, expected_size, retry.timeout, hashed, emit)
        except _Restart:
            discard(part)
            hashed.reset()
            attempt -= 1
        except Transient as exc:
            if attempt > retry.retries:
                raise
            delay = retry.delay(attempt)
            emit(Event("retrying", f"{exc}; retrying in {delay:.1f} s (try {attempt + 1} of {retry.retries + 1})"))
            time.sleep(delay)


def _fetch_once(
    url: str, part: Path, note: Path, expected_size: int, timeout: float, hashed: _Hash, emit: Report
) -> tuple[str, int]:
    have = part.stat().st_size if part.exists() else 0
    response = _open(url, part, note, have, timeout, hashed, emit)
    if response is None:  # the partial file is already whole
        return hashed.sha.hexdigest(), have
    with response:
        have, total, mode = _start(url, response, part, have, hashed, emit)
        if expected_size and total is not None and total != expected_size:
            raise IntegrityError(
                f"{url} offers {total} bytes but the registry says {expected_size}; "
                "the file changed or the URL is wrong; nothing was installed"
            )
        if total is not None:
            check_disk(part.parent, need=(total - have) + total)
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        note.write_text(json.dumps({"url": url, "total": total, "validator": validator}))
        done = _stream(response, part, mode, have, total, timeout, hashed, emit)
    if total is not None and done < total:
        raise Transient(f"connection cut at byte {done} of {total}")
    if total is not None and done > total:
        raise IntegrityError(f"{url} sent {done} bytes after announcing {total}; nothing was installed")
    return hashed.sha.hexdigest(), done


def _open(url: str, part: Path, note: Path, have: int, timeout: float, hashed: _Hash, emit: Report):
    """The server's answer to a GET (with ``Range`` from byte ``have``), or None when ``part`` is already whole."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        validator = read_json(note).get("validator")
        if validator:
            headers["If-Range"] = validator
    host = urllib.parse.urlsplit(url).netloc
    emit(Event("connecting", f"connecting to {host}"))
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and have:
            if _range_total(exc.headers.get("Content-Range", "")) == have:
                hashed.catch_up(part)
                return None
            raise _Restart() from None
        if exc.code >= 500 or exc.code in (408, 429):
            raise Transient(f"{host} answered HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(
            f"{url} answered HTTP {exc.code} {exc.reason}; check the checkpoint name and the URL (--url, MUSE_MIRROR)"
        ) from None
    except urllib.error.URLError as exc:
        if not isinstance(exc.reason, OSError):
            raise DownloadError(f"cannot download {url}: {exc.reason}") from None
        raise Transient(f"cannot connect to {host}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise Transient(f"cannot connect to {host}: {exc}") from None


def _start(url: str, response, part: Path, have: int, hashed: _Hash, emit: Report) -> tuple[int, int | None, str]:
    """(bytes kept, total or None, file mode) for the answer: a 206 resumes, a 200 starts over."""
    if response.status == 206 and have:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if not match or int(match.group(1)) != have:
            raise _Restart()
        total = int(match.group(3)) if match.group(3) != "*" else None
        shown = total if total is not None else "?"
        emit(Event("resuming", f"resuming at byte {have} of {shown}", done=have, total=total))
        hashed.catch_up(part)
        return have, total, "ab"
    if response.status != 200:
        raise DownloadError(f"{url} answered HTTP {response.status}, expected 200 or 206")
    if have:
        host = urllib.parse.urlsplit(url).netloc
        emit(Event("restarting", f"{host} ignored the Range request (HTTP 200): starting over"))
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    hashed.reset()
    what = f"downloading {total} bytes" if total is not None else "downloading (size unknown)"
    emit(Event("downloading", what, total=total))
    return 0, total, "wb"


def _stream(response, part: Path, mode: str, done: int, total, timeout: float, hashed: _Hash, emit: Report) -> int:
    """Append the body to ``part``, flushing each chunk; return the bytes ``part`` holds."""
    with open(part, mode) as out:
        while True:
            try:
                chunk = response.read1(CHUNK_BYTES)
            except TimeoutError:
                raise Transient(f"no data for {timeout:g} s at byte {done} of {total}") from None
            except (OSError, http.client.HTTPException) as exc:
                raise Transient(f"connection cut at byte {done} of {total}: {exc}") from None
            if not chunk:
                return done
            out.write(chunk)
            out.flush()  # what was received is on disk if this process dies
            hashed.update(chunk)
            done += len(chunk)
            emit(Event("bytes", done=done, total=total))


def hash_file(hasher, path: Path, start: int = 0) -> None:
    """Feed ``path`` from byte ``start`` into ``hasher``, a MiB at a time."""
    with open(path, "rb") as f:
        f.seek(start)
        while chunk := f.read(1 << 20):
            hasher.update(chunk)


def read_json(path: Path) -> dict:
    """A JSON object from ``path``, or {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_disk(folder: Path, need: int) -> None:
    free = shutil.disk_usage(folder).free
    if need > free:
        raise DownloadError(
            f"not enough disk space in {folder}: need {_mb(need)} (download and unpacked "
            f"copy), {_mb(free)} free; free some space or set MUSE_HOME to a bigger disk"
        )


def discard(part: Path) -> None:
    """Remove a partial file and its note."""
    for p in (part, part.with_name(part.name + ".json")):
        p.unlink(missing_ok=True)


def _range_total(content_range: str) -> int | None:
    match = re.search(r"/(\d+)\s*$", content_range)
    return int(match.group(1)) if match else None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
