"""Trust on first use: the sha256 of a download whose registry entry has none.

The first download's hash is recorded in ``known_hashes.json`` under MUSE_HOME; every later
download of that name (``--force`` included) must match it. A pin file that cannot be read
stops the download: it is never read as empty.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from muse_cli import settings
from muse_cli.download.lock import locked
from muse_cli.errors import IntegrityError


def known_hashes() -> dict:
    """name -> {"sha256", "size", "url", "first_seen"}: the pins recorded so far."""
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


def remember_hash(name: str, sha: str, size: int, url: str) -> None:
    """Record ``name``'s first-use hash (under the pin file's own lock, written atomically)."""
    path = settings.known_hashes_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.with_name(path.name + ".lock"), lambda event: None, "another muse process"):
        known = known_hashes()
        known[name] = {
            "sha256": sha,
            "size": size,
            "url": url,
            "first_seen": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
