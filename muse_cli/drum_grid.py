"""Pictures of drums: a drum-machine grid, one row per class of magenta's 9-class kit (kick, snare, closed hi-hat
... ride, :data:`muse_cli.families.drums.DRUM_CLASS_NAMES`), one column per 16th note: as text for terminals
and as a PNG (matplotlib, imported here only, on Agg). ``muse show`` draws it for a file's drum track."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from muse_cli.encoding import STEPS_PER_BAR, STEPS_PER_QUARTER
from muse_cli.families.drums import DRUM_CLASS_NAMES, REDUCED_DRUM_PITCH_CLASSES, Drums, drum_events, read_drums

HIT, BEAT, EMPTY = "x", ".", " "
NAME_WIDTH = max(map(len, DRUM_CLASS_NAMES))


@dataclass(frozen=True)
class DrumGrid:
    """Drums as drawn: for each of the 9 classes (in magenta's order) the steps it is hit at, within ``steps``
    (whole bars), and a title."""

    hits: tuple  # one frozenset of steps per class
    steps: int
    title: str

    @property
    def bars(self) -> int:
        return self.steps // STEPS_PER_BAR

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        """(class name, sorted steps hit) for each class, kick first."""
        return [(name, sorted(steps)) for name, steps in zip(DRUM_CLASS_NAMES, self.hits)]


def drum_grid(item, name: str | None = None) -> DrumGrid:
    """The grid of MIDI bytes (its drum tracks: InputError naming ``name`` if it has none), of a
    :class:`~muse_cli.families.drums.Drums`, or a DrumGrid as it is."""
    if isinstance(item, DrumGrid):
        return item
    drums = read_drums(bytes(item), name or "MIDI") if isinstance(item, (bytes, bytearray)) else item
    if not isinstance(drums, Drums):
        raise TypeError(f"cannot draw drums of a {type(item).__name__}: give MIDI bytes or Drums")
    steps = max(1, math.ceil(drums.total_steps / STEPS_PER_BAR)) * STEPS_PER_BAR
    events = drum_events(drums, REDUCED_DRUM_PITCH_CLASSES, 0, steps)
    hits = tuple(frozenset(t for t, e in enumerate(events) if c in e) for c in range(len(DRUM_CLASS_NAMES)))
    return DrumGrid(hits, steps, "".join(ch for ch in (name or Path(drums.source).name) if ch.isprintable())[:120])


def text_grid(item, width: int = 80, name: str | None = None) -> str:
    """The grid in characters: a row per class (its name at the left), ``|`` at bar lines, ``x`` at a hit, ``.``
    on empty beats; bars wrap to fit ``width`` columns, with bar numbers above each line."""
    g = drum_grid(item, name)
    per_line = max(1, (width - NAME_WIDTH - 2) // (STEPS_PER_BAR + 1))
    out = [g.title] if g.title else []
    for first in range(0, g.bars, per_line):
        bars = range(first, min(first + per_line, g.bars))
        out.append(" " * (NAME_WIDTH + 2) + "".join(f"{b + 1:<{STEPS_PER_BAR + 1}}" for b in bars).rstrip())
        for label, steps in g.rows:
            hit = set(steps)
            cells = [HIT if s in hit else BEAT if s % STEPS_PER_QUARTER == 0 else EMPTY for s in range(g.steps)]
            body = "|".join("".join(cells[b * STEPS_PER_BAR : (b + 1) * STEPS_PER_BAR]) for b in bars)
            out.append(f"{label:>{NAME_WIDTH}} |{body}|")
    return "\n".join(out) + "\n"


# -- the PNG ------------------------------------------------------------------------------------
DPI, WIDTH_PX, ROW_PX, BARS_PER_ROW = 100, 1200, 14, 8
LEFT_PX, RIGHT_PX, TITLE_PX, TOP_PX, BOTTOM_PX = 84, 12, 24, 8, 22
HIT_COLOR, BAR_COLOR, BEAT_COLOR, STRIPE_COLOR = "#1f5fa8", "#404040", "#d8d8d8", "#f2f2f2"
_STYLE = {"font.family": "DejaVu Sans", "font.size": 8, "svg.hashsalt": "muse", "path.simplify": False}


def drum_grid_png(item, name: str | None = None) -> bytes:
    """The grid as PNG bytes: a square per hit, a row per class, rows of 8 bars 1200 px wide; the same grid gives
    the same bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    g = drum_grid(item, name)
    per_row = max(BARS_PER_ROW, math.ceil(g.bars / 16))
    plot_h = len(g.hits) * ROW_PX
    rows = range(0, g.bars, per_row)
    height = TITLE_PX + len(rows) * (TOP_PX + plot_h + BOTTOM_PX)
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # not the user's matplotlibrc: the bytes must not depend on it
        matplotlib.rcParams.update(_STYLE)
        fig = Figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI)
        FigureCanvasAgg(fig)
        if g.title:
            fig.text(LEFT_PX / WIDTH_PX, 1 - 6 / height, g.title, va="top", ha="left", fontsize=9)
        for k, first in enumerate(rows):
            top = TITLE_PX + k * (TOP_PX + plot_h + BOTTOM_PX) + TOP_PX
            n = min(per_row, g.bars - first)
            width = round(n * (WIDTH_PX - LEFT_PX - RIGHT_PX) / per_row)
            box = [LEFT_PX / WIDTH_PX, 1 - (top + plot_h) / height, width / WIDTH_PX, plot_h / height]
            _draw_row(fig.add_axes(box), g, first, n)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _draw_row(ax, g: DrumGrid, first: int, n: int) -> None:
    """One row of bars: stripes on alternate classes, beats, bar lines, a square per hit, class names."""
    from matplotlib.collections import PolyCollection

    x0, x1 = first * STEPS_PER_BAR, (first + n) * STEPS_PER_BAR
    rows = len(g.hits)
    ax.set_xlim(x0, x1)
    ax.set_ylim(rows - 0.5, -0.5)  # kick at the top, in class order as the text grid
    stripes = [box(x0, x1, r - 0.5, r + 0.5) for r in range(1, rows, 2)]
    ax.add_collection(PolyCollection(stripes, facecolors=STRIPE_COLOR, linewidths=0, antialiaseds=False, zorder=0))
    line = {"ymin": -0.5, "ymax": rows - 0.5, "antialiased": False}
    ax.vlines([s for s in range(x0, x1, STEPS_PER_QUARTER) if s % STEPS_PER_BAR], colors=BEAT_COLOR, lw=0.6, **line)
    ax.vlines(range(x0, x1 + 1, STEPS_PER_BAR), colors=BAR_COLOR, lw=1, zorder=2, clip_on=False, **line)
    squares = [box(s + 0.1, s + 0.9, r - 0.35, r + 0.35) for r, hit in enumerate(g.hits) for s in hit if x0 <= s < x1]
    ax.add_collection(PolyCollection(squares, facecolors=HIT_COLOR, linewidths=0, antialiaseds=False, zorder=4))
    ax.set_yticks(range(rows), list(DRUM_CLASS_NAMES), fontsize=7)
    numbered = range(x0, x1, STEPS_PER_BAR)
    ax.set_xticks(numbered, [str(s // STEPS_PER_BAR + 1) for s in numbered])
    ax.tick_params(length=2, pad=2)
    for spine in ax.spines.values():
        spine.set_visible(False)


def box(x0: float, x1: float, y0: float, y1: float) -> list[tuple[float, float]]:
    """A rectangle's corners, for a PolyCollection (piano rolls and drum grids alike)."""
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
