"""The manifest, JOBS.manifest.jsonl: one JSON line per finished job, written by the client only.

Each line is appended with a single write(); the client fsyncs as each task's
results arrive. Within a file the last line for a job is its current state; a
line torn by a crash is ignored (the job is checked again).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MANIFEST_SUFFIX = ".manifest.jsonl"


def manifest_path_for(jobs_file: Path) -> Path:
    """JOBS.jsonl -> JOBS.manifest.jsonl beside it."""
    name = jobs_file.name
    stem = name[: -len(jobs_file.suffix)] if jobs_file.suffix else name
    return jobs_file.with_name(stem + MANIFEST_SUFFIX)


class Manifest:
    """JOBS.manifest.jsonl: appended one whole line at a time, each flushed to disk."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.last: dict[str, dict] = {}
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            text = ""
        for line in text.splitlines():
            try:
                rec = json.loads(line)
                self.last[str(rec["id"])] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line torn by a crash: ignored, the job is checked again
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self._dirty = False
        if text and not text.endswith("\n"):
            os.write(self._fd, b"\n")

    def already(self, rec: dict) -> bool:
        """True if the manifest's last line for this job already says the same (a skipped, done job)."""
        prev = self.last.get(rec["id"])
        return (
            rec["status"] == "skipped"
            and prev is not None
            and prev.get("status") in ("ok", "skipped")
            and [o.get("sha256") for o in prev.get("outputs", [])] == [o["sha256"] for o in rec["outputs"]]
        )

    def append(self, rec: dict, sync: bool = True) -> None:
        """One line, one write(); with ``sync``, flushed to disk before returning."""
        os.write(self._fd, (json.dumps(rec, separators=(",", ":")) + "\n").encode())
        self.last[rec["id"]] = rec
        self._dirty = True
        if sync:
            self.sync()

    def sync(self) -> None:
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        self.sync()
        os.close(self._fd)
