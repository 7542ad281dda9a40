"""The fields of one job line: which each op takes, their types, and the checks of one line alone.

:mod:`.jobs` checks what needs the whole file (paths, outputs claimed twice, checkpoints).
"""

from __future__ import annotations

import json
import math
import re

from muse_cli import settings
from muse_cli.errors import PromptError, UsageError
from muse_cli.prompt.words import read_tempo

OPS = ("sample", "decode", "interpolate", "vary", "continue", "render", "show")
MODEL_OPS = ("sample", "decode", "interpolate", "vary", "continue")
RENDER_RATE = 44100
FILE_OPS = {"render": ".wav", "show": ".png"}  # one MIDI file in, one file out: its suffix
MAX_STEPS = 64  # interpolation steps, as `muse interpolate --steps`

# The fields each op takes (besides op, id and checkpoint); types are checked in _check_fields.
_COMMON = {"op", "id", "checkpoint"}
_REQUIRED = {
    "sample": {"seed", "out"},
    "decode": {"seed", "out"},
    "interpolate": {"a", "b", "seed", "out"},
    "vary": {"midi", "seed", "out"},
    "continue": {"midi", "seed", "out"},
    "render": {"midi"},
    "show": {"midi"},
}
_OPTIONAL = {
    "sample": {"seconds", "form", "temperature", "qpm", "wav", "attrs", "style", "chords"},
    "decode": {"latents", "prompt", "source", "seconds", "temperature", "qpm", "wav", "attrs", "chords"},
    "interpolate": {"steps", "temperature", "qpm", "wav"},
    "vary": {"amount", "temperature", "qpm", "wav", "attrs", "chords"},
    "continue": {"seconds", "form", "keep", "temperature", "qpm", "wav", "attrs", "style", "chords"},
    "render": {"out", "rate", "soundfont"},
    "show": {"out"},
}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _nonempty(v) -> bool:
    return isinstance(v, str) and v.strip() != ""


# field -> (test, what it must be); every field a line may hold, besides op.
_TYPES = {
    "id": (lambda v: _nonempty(v) or _is_int(v), "a string or an integer"),
    "checkpoint": (_nonempty, "a registry name or checkpoint path (a string)"),
    "seed": (lambda v: _is_int(v) and 0 <= v < 2**63, "a non-negative integer"),
    "seconds": (
        lambda v: _is_number(v) and 0 < v <= settings.MAX_SECONDS,
        f"a number of seconds in (0, {settings.MAX_SECONDS:g}]",
    ),
    "temperature": (settings.temperature_ok, f"a number {settings.TEMPERATURE_RANGE}"),
    "qpm": (
        lambda v: _is_number(v) and settings.MIN_QPM <= v <= settings.MAX_QPM,
        f"a number from {settings.MIN_QPM:g} to {settings.MAX_QPM:g}",
    ),
    "wav": (lambda v: isinstance(v, bool), "true or false"),
    "keep": (lambda v: isinstance(v, bool), "true or false"),
    "amount": (lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 (the melody) to 1 (a new melody)"),
    "steps": (lambda v: _is_int(v) and 2 <= v <= MAX_STEPS, f"an integer from 2 to {MAX_STEPS}"),
    "rate": (lambda v: _is_int(v) and 8000 <= v <= 192000, "an integer from 8000 to 192000 (Hz)"),
    "attrs": (
        lambda v: isinstance(v, dict) and all(_is_number(x) and abs(x) <= settings.MAX_ATTR for x in v.values()),
        f'an object of attribute values from -{settings.MAX_ATTR:g} to {settings.MAX_ATTR:g}, e.g. {{"density": 1}}',
    ),
    "style": (
        lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", v) is not None,
        "a style name (letters, digits, _ and -; see muse styles)",
    ),
    "chords": (_nonempty, 'a chord progression for a chord-conditioned checkpoint, e.g. "C G Am F"'),
    **{
        key: (_nonempty, "a non-empty string")
        for key in ("out", "latents", "prompt", "source", "a", "b", "midi", "soundfont")
    },
}


def _check_fields(obj: dict, op: str) -> list[str]:
    problems = []
    allowed = _COMMON | _REQUIRED[op] | _OPTIONAL[op]
    unknown = sorted(set(obj) - allowed)
    if unknown:
        problems.append(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for op {op!r} (it takes {', '.join(sorted(allowed - {'op'}))})"
        )
    missing = sorted(_REQUIRED[op] - set(obj))
    if missing:
        problems.append(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} for op {op!r}")
    if op == "decode":
        has = [k for k in ("latents", "prompt") if k in obj]
        if len(has) != 1:
            problems.append("decode needs exactly one of 'latents' (a file from muse encode) or 'prompt' (text)")
        if "seconds" in obj and "latents" in obj:
            problems.append("'seconds' goes with 'prompt'; decoding latents keeps their length")
        if "source" in obj and "prompt" in obj:
            problems.append("'source' goes with 'latents'")
        if "attrs" in obj and "prompt" in obj:
            problems.append("'attrs' goes with 'latents'; it does not combine with 'prompt' yet")
    for key, (ok, what) in _TYPES.items():
        if key in obj and not ok(obj[key]):
            problems.append(f"{key!r} must be {what}, got {json.dumps(obj[key])}")
    if _nonempty(obj.get("prompt")):
        try:
            read_tempo(obj["prompt"])  # a tempo out of range in the words, as `muse sample --prompt` refuses it
        except PromptError as exc:
            problems.append(f"'prompt': {exc}")
    if _nonempty(obj.get("chords")):
        from muse_cli.errors import UsageError
        from muse_cli.families.chords import parse_chords

        try:
            parse_chords(obj["chords"], option="'chords'")
        except UsageError as exc:
            problems.append(str(exc))
    if "form" in obj and not problems:
        problems += _form_problems(obj)
    return problems


def _form_problems(obj: dict) -> list[str]:
    """'form' as letters A-Z, with a 2-bar window for each letter in 'seconds' at 'qpm' (muse_cli.form)."""
    from muse_cli.form import check_form

    try:
        check_form(obj["form"], obj.get("seconds"), obj.get("qpm", 120.0))
    except UsageError as exc:
        return [str(exc).replace("--form", "'form'").replace("--seconds", "'seconds'")]
    return []


def read_line(line: str) -> tuple[dict, str | None, list[str]]:
    """(object, op, problems) of one non-blank line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, None, [f"not valid JSON ({exc.msg} at column {exc.colno})"]
    if not isinstance(obj, dict):
        return {}, None, [f"expected a JSON object {{...}}, got {type(obj).__name__}"]
    op = obj.get("op")
    if op is None:
        return obj, None, [f"missing field 'op' (one of {', '.join(OPS)})"]
    if op not in OPS:
        return obj, None, [f"unknown op {json.dumps(op)}; use one of {', '.join(OPS)}"]
    return obj, op, _check_fields(obj, op)
