"""Pictures of melodies: a piano-roll PNG (matplotlib, imported here only, on Agg) and a text roll for terminals.

A :class:`Roll` is what both draw: notes on the 16-steps-a-bar grid, whole bars long, cut into segments with
labels. One melody's segments are muse's 2-bar windows; a list of melodies is laid end to end, one segment
each (interpolate's steps). Labels come from the caller, else from muse's provenance in the MIDI (``form``:
letters such as "AABA" or a list; interpolate's steps), else none. The PNG's bytes depend on the roll only:
fixed size, dpi, font, style and metadata.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from muse_cli.drum_grid import box
from muse_cli.encoding import STEPS_PER_BAR, STEPS_PER_QUARTER, WINDOW_STEPS
from muse_cli.errors import InputError

MAX_BARS = 1000  # the longest melody muse writes: 600 s at 400 qpm
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
LABEL_CHARS = 12  # a label longer than this is cut


@dataclass(frozen=True)
class Roll:
    """A melody as drawn: notes (pitch, start, end) within ``steps`` (whole bars), its segments and a title."""

    notes: list
    steps: int
    starts: list  # the step each segment begins at, the first 0
    labels: list  # one string per segment ("" for none)
    title: str

    @property
    def bars(self) -> int:
        return self.steps // STEPS_PER_BAR


def pitch_name(pitch: int) -> str:
    """Scientific pitch name: 60 -> C4, 61 -> C#4."""
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


# -- building a roll ----------------------------------------------------------------------------
def read_roll(data: bytes, source: str) -> Roll:
    """The roll of a MIDI file's melody (errors name ``source``), labelled from muse's provenance if it has one."""
    from muse_cli.midi import read_melody

    melody = read_melody(data, source)
    return _single(melody.notes, melody.total_steps, _provenance(data), Path(source).name)


def roll(melodies, labels=None, name: str | None = None) -> Roll:
    """A Roll of one melody or of a list laid end to end.

    Each melody is MIDI bytes, :func:`muse_cli.midi.read_melody`'s Melody, a generated melody (``.notes``,
    ``.qpm``, ``.seconds``, ``.provenance``) or a Roll. ``labels``: one per segment (the 2-bar windows of one
    melody, or each melody of a list); missing ones are blank, extra ones ignored. ``name``: the name the title
    gives before what made the melody (default: its file's or its own).
    """
    items = list(melodies) if isinstance(melodies, (list, tuple)) else [melodies]
    if not items:
        raise InputError("nothing to show: give one or more melodies")
    rolls = [_as_roll(m, name if len(items) == 1 else None) for m in items]
    if len(rolls) == 1:
        r = rolls[0]
    else:
        notes, starts, offset = [], [], 0
        for r in rolls:
            notes += [(p, s + offset, e + offset) for p, s, e in r.notes]
            starts.append(offset)
            offset += r.steps
        r = Roll(notes, offset, starts, [_item_label(m) for m in items], _printable(name or "", 120))
    _check_length(r.steps, r.title or "the melodies")
    if labels is not None:
        r = Roll(r.notes, r.steps, r.starts, _fit_labels([str(x) for x in labels], len(r.starts)), r.title)
    return r


def _as_roll(item, name: str | None) -> Roll:
    if isinstance(item, Roll):
        return item
    if isinstance(item, (bytes, bytearray)):
        return read_roll(bytes(item), name or "MIDI")
    if hasattr(item, "provenance") and hasattr(item, "seconds"):  # a generated melody (model.Generated)
        from muse_cli.midi import written_notes

        steps = round(item.seconds * item.qpm / 60.0 * STEPS_PER_QUARTER)
        return _single(written_notes(item.notes, item.qpm, item.seconds), steps, item.provenance, name or item.name)
    if hasattr(item, "notes") and hasattr(item, "total_steps"):  # midi.Melody
        return _single(item.notes, item.total_steps, {}, name or Path(item.source).name)
    raise TypeError(f"cannot show a {type(item).__name__}: give MIDI bytes, a Melody or a generated melody")


def _single(notes, steps: int, prov: dict, name: str) -> Roll:
    """One melody: whole bars (with the file's own length where its provenance gives it), 2-bar windows."""
    end = max((e for _, _, e in notes), default=0)
    steps = max(int(steps), end)
    wanted = _provenance_steps(prov)
    if wanted is not None and steps < wanted < steps + WINDOW_STEPS:  # a trailing rest the notes do not show
        steps = wanted
    steps = max(1, math.ceil(steps / STEPS_PER_BAR)) * STEPS_PER_BAR
    _check_length(steps, name)
    notes = [(int(p), int(s), min(int(e), steps)) for p, s, e in notes if s < steps]
    starts = list(range(0, steps, WINDOW_STEPS))
    return Roll(notes, steps, starts, provenance_labels(prov, len(starts)), _title(name, prov))


def _check_length(steps: int, name: str) -> None:
    if steps > MAX_BARS * STEPS_PER_BAR:
        raise InputError(f"{name} is {steps // STEPS_PER_BAR} bars long; muse show draws at most {MAX_BARS} bars")


def _provenance(data: bytes) -> dict:
    """muse's provenance of a MIDI file, or {} (none, or not a JSON object)."""
    from muse_cli.midi import read_provenance

    try:
        prov = read_provenance(data)
    except Exception:  # a broken text event is no reason not to draw the notes
        return {}
    return prov if isinstance(prov, dict) else {}


def _provenance_steps(prov: dict) -> int | None:
    seconds, qpm = prov.get("seconds"), prov.get("qpm")
    if not all(isinstance(x, (int, float)) and math.isfinite(x) and x > 0 for x in (seconds, qpm)):
        return None
    return round(seconds * qpm / 60.0 * STEPS_PER_QUARTER)


def provenance_labels(prov: dict, segments: int) -> list[str]:
    """Segment labels from provenance: ``form`` (one letter or label per window, or per equal group of windows),
    or "step N" for each window of a concatenated interpolation; else blanks."""
    form = prov.get("form")
    if isinstance(form, str):
        form = form.replace(",", " ").split() if (" " in form or "," in form) else list(form)
    if isinstance(form, list) and form:
        form = [str(x) for x in form]
        if segments % len(form) == 0:  # each label covers an equal run of windows: label the first of each
            run = segments // len(form)
            form = [label if k % run == 0 else "" for label in form for k in range(run)]
        return _fit_labels(form, segments)
    steps = prov.get("steps")
    if prov.get("mode") == "interpolate" and "step" not in prov and steps == segments:
        return [f"step {k + 1}" for k in range(segments)]
    return [""] * segments


def _fit_labels(labels: list[str], segments: int) -> list[str]:
    clean = [_printable(x, LABEL_CHARS) for x in labels[:segments]]
    return clean + [""] * (segments - len(clean))


def _printable(text: str, limit: int) -> str:
    return "".join(c for c in text if c.isprintable())[:limit]


def _item_label(item) -> str:
    """A list item's label: its interpolation step, else its name."""
    prov = _provenance(bytes(item)) if isinstance(item, (bytes, bytearray)) else getattr(item, "provenance", {})
    prov = prov if isinstance(prov, dict) else {}
    if isinstance(prov.get("step"), int):
        return f"step {prov['step']}"
    return (getattr(item, "name", None) or Path(getattr(item, "source", "")).name)[:LABEL_CHARS]


def _title(name: str, prov: dict) -> str:
    """The file name, then what made it: mode, seed, temperature, tempo and checkpoint."""
    said = [str(prov[k]) for k in ("mode",) if k in prov]
    said += [f"{k} {prov[k]}" for k in ("seed", "temperature") if k in prov]
    said += [f"{prov['qpm']} qpm"] if "qpm" in prov else []
    said += [str(prov[k]) for k in ("checkpoint",) if k in prov]
    return _printable(f"{name} ({', '.join(said)})" if said else name, 120)


# -- what `muse show` draws for a file -----------------------------------------------------------
def read_views(data: bytes, source: str) -> list:
    """What ``muse show`` draws of a MIDI file: its melody's Roll, then the DrumGrid of its drums if it has any; a
    file of drums alone, its DrumGrid. Errors name ``source`` (the melody's, unless the file is drums alone)."""
    from muse_cli.drum_grid import drum_grid
    from muse_cli.errors import NoMelodyError

    try:
        views = [read_roll(data, source)]
    except NoMelodyError as err:
        try:
            grid = drum_grid(data, Path(source).name)
        except InputError:
            if "only drum tracks" in str(err):
                raise
            raise err from None
        _check_length(grid.steps, source)
        return [grid]
    try:
        grid = drum_grid(data, "drums")
    except InputError:
        return views  # no drums: the roll alone
    _check_length(grid.steps, source)
    return views + [grid]


def draw_text(views: list, width: int = 80) -> str:
    """The views of :func:`read_views` in characters, one after another."""
    from muse_cli.drum_grid import text_grid

    return "\n".join(text_roll(v, width=width) if isinstance(v, Roll) else text_grid(v, width) for v in views)


def draw_png(views: list) -> bytes:
    """The first of the views of :func:`read_views` as PNG bytes: the melody's roll, else the drum grid."""
    from muse_cli.drum_grid import drum_grid_png

    return piano_roll_png(views[0]) if isinstance(views[0], Roll) else drum_grid_png(views[0])


# -- the text roll ------------------------------------------------------------------------------
HEAD, HOLD, BEAT, EMPTY = "#", "=", ".", " "


def text_roll(melodies, labels=None, width: int = 80, name: str | None = None) -> str:
    """A piano roll in characters: one row per pitch of the melody's range (its name at the left), one column
    per 16th, ``|`` at bar lines, ``#`` at a note's start and ``=`` while it holds, ``.`` on empty beats.
    Bars wrap to fit ``width`` columns (an even number of bars a line where two fit, so windows stay whole);
    above each line, bar numbers and the segment labels."""
    r = roll(melodies, labels, name)
    pitches = sorted({p for p, _, _ in r.notes}) or [60]
    grid = {p: [BEAT if s % STEPS_PER_QUARTER == 0 else EMPTY for s in range(r.steps)] for p in pitches}
    for p, s, e in r.notes:
        grid[p][s] = HEAD
        for k in range(s + 1, e):
            grid[p][k] = HOLD
    rows = range(max(pitches), min(pitches) - 1, -1)
    per_line = max(1, (width - 5) // (STEPS_PER_BAR + 1))
    per_line -= per_line % 2 if per_line > 1 else 0
    labels_at = {s: label for s, label in zip(r.starts, r.labels) if label}
    out = [r.title] if r.title else []
    for first in range(0, r.bars, per_line):
        bars = range(first, min(first + per_line, r.bars))
        head = "".join(f"{b + 1:<{STEPS_PER_BAR + 1}}" for b in bars)
        marks = [" "] * len(head)
        for s, label in labels_at.items():
            if bars.start * STEPS_PER_BAR <= s < bars.stop * STEPS_PER_BAR:
                col = s - bars.start * STEPS_PER_BAR + s // STEPS_PER_BAR - bars.start + 1
                marks[col : col + len(label)] = label
        out.append("    " + head.rstrip())
        if labels_at:
            out.append(("    " + "".join(marks)).rstrip())
        for p in rows:
            cells = grid.get(p) or [BEAT if s % STEPS_PER_QUARTER == 0 else EMPTY for s in range(r.steps)]
            body = "|".join("".join(cells[b * STEPS_PER_BAR : (b + 1) * STEPS_PER_BAR]) for b in bars)
            out.append(f"{pitch_name(p):>3} |{body}|")
    return "\n".join(out) + "\n"


# -- the PNG ------------------------------------------------------------------------------------
DPI = 100
WIDTH_PX = 1200
LEFT_PX, RIGHT_PX, TITLE_PX, TOP_PX, BOTTOM_PX = 48, 12, 24, 16, 22  # margins; TOP/BOTTOM per row
PITCH_PX = 12  # height of one semitone
NOTE_GAP_PX = 2  # between a note and the next at its pitch that starts where it ends
BARS_PER_ROW, MAX_ROWS = 8, 16  # longer melodies put more bars in a row
NOTE_COLOR, BAR_COLOR, BEAT_COLOR, SEGMENT_COLOR = "#1f5fa8", "#404040", "#d8d8d8", "#e07000"
BLACK_KEY_COLOR = "#f2f2f2"
_STYLE = {"font.family": "DejaVu Sans", "font.size": 8, "svg.hashsalt": "muse", "path.simplify": False}


def layout(r: Roll) -> tuple[int, list[tuple[int, int, int, int, int]]]:
    """Image height and, per row of bars, (first bar, bars, left, top, width) in pixels: the plot area."""
    per_row = max(BARS_PER_ROW, math.ceil(r.bars / MAX_ROWS))
    lo, hi = _pitch_range(r)
    plot_h = (hi - lo + 1) * PITCH_PX
    bar_px = (WIDTH_PX - LEFT_PX - RIGHT_PX) / per_row
    rows, top = [], TITLE_PX
    for first in range(0, r.bars, per_row):
        n = min(per_row, r.bars - first)
        rows.append((first, n, LEFT_PX, top + TOP_PX, round(n * bar_px)))
        top += TOP_PX + plot_h + BOTTOM_PX
    return top, rows


def _pitch_range(r: Roll) -> tuple[int, int]:
    pitches = [p for p, _, _ in r.notes] or [60]
    return min(pitches), max(pitches)


def piano_roll_png(melodies, labels=None, name: str | None = None) -> bytes:
    """A piano roll as PNG bytes (what :func:`roll` takes): bar lines, beats lightly, note names on the
    pitch axis over the melody's range, segment boundaries (muse's 2-bar windows) and labels. Rows of 8 bars,
    1200 px wide; the same roll gives the same bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    r = roll(melodies, labels, name)
    height, rows = layout(r)
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # not the user's matplotlibrc: the bytes must not depend on it
        matplotlib.rcParams.update(_STYLE)
        fig = Figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI)
        FigureCanvasAgg(fig)
        if r.title:
            fig.text(LEFT_PX / WIDTH_PX, 1 - 6 / height, r.title, va="top", ha="left", fontsize=9)
        for row in rows:
            _draw_row(fig, r, row, height)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _draw_row(fig, r: Roll, row: tuple, height: int) -> None:
    """One row of bars: black-key stripes, beats, bar lines, segment lines and labels, notes, names.

    Stripes and notes are one PolyCollection each, lines one LineCollection each: a patch per note
    (Axes.barh) took 0.2 s for 70 notes."""
    from matplotlib.collections import PolyCollection

    first, n, left, top, width = row
    lo, hi = _pitch_range(r)
    plot_h = (hi - lo + 1) * PITCH_PX
    ax = fig.add_axes([left / WIDTH_PX, 1 - (top + plot_h) / height, width / WIDTH_PX, plot_h / height])
    x0, x1 = first * STEPS_PER_BAR, (first + n) * STEPS_PER_BAR
    ax.set_xlim(x0, x1)
    ax.set_ylim(lo - 0.5, hi + 0.5)
    black = [box(x0, x1, p - 0.5, p + 0.5) for p in range(lo, hi + 1) if p % 12 in (1, 3, 6, 8, 10)]
    ax.add_collection(PolyCollection(black, facecolors=BLACK_KEY_COLOR, linewidths=0, antialiaseds=False, zorder=0))
    beats = [s for s in range(x0, x1, STEPS_PER_QUARTER) if s % STEPS_PER_BAR]
    line = {"ymin": lo - 0.5, "ymax": hi + 0.5, "antialiased": False}
    ax.vlines(beats, colors=BEAT_COLOR, lw=0.6, zorder=1, **line)
    ax.vlines(range(x0, x1 + 1, STEPS_PER_BAR), colors=BAR_COLOR, lw=1, zorder=2, clip_on=False, **line)
    segments = [(s, label) for s, label in zip(r.starts, r.labels) if x0 <= s < x1]
    ax.vlines([s for s, _ in segments], colors=SEGMENT_COLOR, lw=2, zorder=3, **line)
    for start, label in segments:
        if label:
            ax.text(start + 0.3, hi + 0.6, label, color=SEGMENT_COLOR, fontweight="bold", va="bottom", ha="left")
    onsets = {(p, s) for p, s, _ in r.notes}  # a note that ends where the next at its pitch starts ends early:
    gap = NOTE_GAP_PX * n * STEPS_PER_BAR / width  # two repeated Cs are two boxes, as the text roll's "#===#==="
    notes = [
        box(max(s, x0), min(e - (gap if (p, e) in onsets else 0), x1), p - 0.4, p + 0.4)
        for p, s, e in r.notes
        if s < x1 and e > x0
    ]
    ax.add_collection(PolyCollection(notes, facecolors=NOTE_COLOR, linewidths=0, antialiaseds=False, zorder=4))
    used = sorted({p for p, _, _ in r.notes})
    ax.set_yticks(used, [pitch_name(p) for p in used], fontsize=7)
    every = 1  # bars between numbered ticks: 1, 2, 4 ... so that numbers are at least 40 px apart
    while every * width / n < 40:
        every *= 2
    numbered = range(x0, x1, every * STEPS_PER_BAR)
    ax.set_xticks(numbered, [str(s // STEPS_PER_BAR + 1) for s in numbered])
    ax.tick_params(length=2, pad=2)
    for spine in ax.spines.values():
        spine.set_visible(False)
