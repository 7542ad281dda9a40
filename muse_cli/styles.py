"""Styles: the conductor adapted to a folder of someone's tunes (`muse fit-style DIR -o NAME`).

A style is a conductor file (:mod:`muse_cli.conductor`, the same arrays and checks) kept as
``$MUSE_HOME/styles/NAME.npz`` (:func:`muse_cli.settings.styles_dir`), fitted by :mod:`muse_cli.training.style`
for one checkpoint (its sha256 is recorded and checked). ``--style NAME`` on sample and continue (and a job's
"style") lets it lead the pieces instead of the checkpoint's own conductor.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from muse_cli import conductor as cond
from muse_cli.errors import UsageError
from muse_cli.settings import styles_dir

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
FIT = "muse fit-style DIR -o NAME"


def check_name(name: str) -> str:
    """``name`` when it is a plain style name (letters, digits, _ and -, at most 64), else UsageError."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UsageError(f"style name {name!r} is not a plain name; use letters, digits, _ and - (at most 64)")
    return name


def path_for(name: str) -> Path:
    """Where style ``name`` lives: ``$MUSE_HOME/styles/NAME.npz``."""
    return styles_dir() / f"{check_name(name)}.npz"


def load_style(model, name: str) -> cond.Conductor:
    """Style ``name``'s conductor for ``model``: UsageError when there is no such style, CheckpointError (one line,
    from :func:`muse_cli.conductor.load`) when its file is unreadable, malformed or made for another checkpoint."""
    path = path_for(name)
    if not path.is_file():
        have = ", ".join(installed()) or "none yet"
        raise UsageError(f"no style {name!r} in {styles_dir()} (installed: {have}); fit one with: {FIT}")
    return cond.load(model, path, hint=f"{FIT.replace('NAME', name)} -c {model.checkpoint} --force")


def style_conductor(model, name: str | None, long: str = "conductor") -> tuple[cond.Conductor | None, dict]:
    """(the style's conductor, provenance to add) for ``name``; (None, {}) without a style; UsageError for a
    style with the walk (``long``)."""
    if not name:
        return None, {}
    if long == "walk":
        raise UsageError("a style leads pieces by its conductor; leave out --walk (or the style)")
    return load_style(model, name), {"style": name}


def installed() -> list[str]:
    """The names of the installed styles, sorted."""
    folder = styles_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.npz") if NAME.fullmatch(p.stem))


def describe(name: str) -> dict:
    """What a style file says of itself (its meta's checkpoint, tunes, windows, folder), or {"error": ...}."""
    import numpy as np

    try:
        with np.load(path_for(name), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
    except Exception as exc:  # a listing shows a broken file, it does not stop
        return {"error": " ".join(str(exc).split())[:80] or type(exc).__name__}
    style = meta.get("style", {}) if isinstance(meta, dict) else {}
    return {"checkpoint": meta.get("checkpoint"), **{k: style.get(k) for k in ("tunes", "windows", "folder")}}
