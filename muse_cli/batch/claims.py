"""Claims across a job file: which line writes each output and which uses each id (:mod:`.jobs` checks them)."""

from __future__ import annotations

import os
from pathlib import Path


class Claims:
    """Which line writes each output and uses each id, across the file.

    Outputs are known by their real paths (every symbolic link followed): one that leaves the root
    through a link is refused, and two paths that reach one file are one output.
    """

    def __init__(self, root: Path, reserved: dict[Path, str]):
        self.root, self.real_root = root, Path(os.path.realpath(root))
        self.dirs: dict[Path, Path] = {}  # directory -> its real path, looked up once
        self.reserved = {Path(os.path.realpath(p)): what for p, what in reserved.items()}
        self.owners: dict[Path, int] = {p: 0 for p in self.reserved}
        self.ids: dict[str, int] = {}

    def _real(self, path: Path) -> Path:
        parent = self.dirs.get(path.parent)
        if parent is None:
            parent = self.dirs[path.parent] = Path(os.path.realpath(path.parent))
        real = parent / path.name
        return Path(os.path.realpath(real)) if real.is_symlink() else real

    def outputs(self, lineno: int, outputs: list[Path]) -> list[str]:
        problems = []
        for out in outputs:
            real = self._real(out)
            if self.real_root not in real.parents:
                problems.append(
                    f"output {out} leads to {real} through a symbolic link; outputs must stay inside {self.root}"
                )
            elif real in self.owners:
                what = self.reserved.get(real)
                problems.append(
                    f"output {out} would overwrite the {what}"
                    if what
                    else f"output {out} is also written by line {self.owners[real]}"
                )
            else:
                self.owners[real] = lineno
        return problems

    def id(self, lineno: int, job_id: str) -> list[str]:
        if job_id in self.ids:
            return [f"id {job_id!r} is also used by line {self.ids[job_id]}"]
        self.ids[job_id] = lineno
        return []
