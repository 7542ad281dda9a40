"""The one progress display: click's progress bar on a terminal, a plain line now and then elsewhere.

Used by `muse download` (bytes), `muse batch` (jobs), the prompt head's fit (windows, captions,
steps) and the corpus parse behind `muse eval --prompts` and `make train`. Everything goes to
stderr. On a terminal: ``label [####------]  41%  00:00:03  1.2 MB / 2.9 MB  1.2 MB/s``,
redrawn at most ten times a second. Elsewhere (a log file, CI): ``label: 120/500 windows  3.4
windows/s  ETA 00:01:52`` every ``every`` seconds and once at the end, or nothing with
``every=None``. Rates (and so ETAs) count from the first update that moved, so the start-up
before it (a cluster starting, a model loading) is not taken for slow work; until a second
update has moved there is no rate, and none is shown.

Why click's bar and not tqdm: click is imported by every command anyway, so the bar costs no
import time, where tqdm adds 66 to 144 ms to a command's start (``bench/bench_progress.py``, two
runs on a busy 2-core machine); click's bar already draws the label, percent and ETA, and the
text beside it (sizes, rates, failures) is ours.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager

ELAPSED = "elapsed"  # the unit of :func:`ticking`: one long step whose progress cannot be counted
PROGRESS_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal
REDRAW_SECONDS = 0.1  # the fastest a terminal bar is redrawn
BAR_WIDTH = 24


class Progress:
    """Progress of ``total`` things (None: unknown) called ``unit`` ("B": bytes, shown in kB/MB/GB).

    ``update(done)`` moves to an absolute position; ``advance(n)`` by ``n``; ``note`` adds text
    after the count (", 2 failed"). ``quiet`` shows nothing. Use as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        total: int | None,
        label: str,
        unit: str = "",
        *,
        every: float | None = PROGRESS_EVERY,
        stream=None,
        tty: bool | None = None,
        start: int = 0,
        quiet: bool = False,
    ):
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream or sys.stderr
        self.tty = False if quiet else self.stream.isatty() if tty is None else tty
        self.every = None if quiet else every
        self.done = self.first = start
        self.started = time.monotonic()
        self.since: tuple[float, int] | None = None  # (time, count) of the first update that moved
        self.last = float("-inf")  # the first update shows at once
        self.note = ""
        self._bar = None
        self._shown = start

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def advance(self, n: int = 1, note: str | None = None) -> None:
        self.update(self.done + n, note)

    def update(self, done: int, note: str | None = None) -> None:
        self.done = done
        if note is not None:
            self.note = note
        now = time.monotonic()
        if self.since is None and done > self.first:
            self.since = (now, done)
        finished = self.total is not None and done >= self.total
        if self.tty:
            if now - self.last >= REDRAW_SECONDS or finished:
                self._draw()
                self.last = now
        elif self.every is not None and (now - self.last >= self.every or finished):
            self.stream.write(f"{self.label}: {self.text()}\n")
            self.stream.flush()
            self.last = now

    def rate(self) -> float | None:
        """Things a second since the first update that moved; None before a later one has moved too."""
        if self.since is None or self.done <= self.since[1]:
            return None
        return (self.done - self.since[1]) / max(1e-9, time.monotonic() - self.since[0])

    def text(self) -> str:
        """``120/500 windows, 2 failed  3.4 windows/s  ETA 00:01:52`` (sizes and rates scaled for bytes);
        rate and ETA only once there is a rate. :func:`ticking`'s unit shows the time spent instead."""
        if self.unit == ELAPSED:
            return time.strftime("%H:%M:%S", time.gmtime(time.monotonic() - self.started)) + self.note
        rate = self.rate()
        if self.unit == "B":
            count = f"{size_text(self.done)} / {size_text(self.total)}" if self.total else size_text(self.done)
            return f"{count}{self.note}" + (f"  {size_text(rate)}/s" if rate else "")
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        text = f"{count} {self.unit}{self.note}"
        if rate:
            text += f"  {rate:.1f} {self.unit}/s"
            if self.total is not None:
                text += "  ETA " + time.strftime("%H:%M:%S", time.gmtime((self.total - self.done) / rate))
        return text

    def _draw(self) -> None:
        if self._bar is None:
            import click

            steps = (x for x in ()) if self.total is None else None  # a bar of unknown length
            self._bar = click.progressbar(
                steps,
                length=self.total,
                label=self.label,
                bar_template="%(label)s  [%(bar)s]  %(info)s" if self.label else "[%(bar)s]  %(info)s",
                file=self.stream,
                width=BAR_WIDTH,
                show_percent=self.total is not None,
                show_eta=self.total is not None,
                show_pos=False,
                item_show_func=lambda _: self._info(),
                color=True,
            )
            self._bar._is_atty = True  # the stream was judged a terminal above (or told so)
            self._bar.pos = self._shown
        self._bar.update(self.done - self._shown)
        self._shown = self.done

    def _info(self) -> str:
        full = self.text()
        return full.split("  ETA ")[0]  # click's bar shows its own ETA

    def close(self) -> None:
        """End a terminal bar's line (drawing the last position first); lines elsewhere need no ending."""
        if self._bar is not None:
            if self._shown != self.done:
                self._draw()
            self._bar.render_finish()
            self._bar = None


@contextmanager
def ticking(label: str, *, stream=None, tty: bool | None = None, every: float = 0.5):
    """One long step that cannot be counted (``encode --refine``): on a terminal, the bar of unknown length with
    the time spent, redrawn every ``every`` seconds by a thread; nothing elsewhere (a log, a pipe)."""
    bar = Progress(None, label, ELAPSED, every=None, stream=stream, tty=tty)
    if not bar.tty:
        yield
        return
    stop = threading.Event()

    def tick() -> None:
        while True:
            bar.advance(1)  # click's bar of unknown length moves its marker with the position
            if stop.wait(every):
                return

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.close()


def size_text(n: float) -> str:
    """``512 B``, ``1.2 kB``, ``3.4 MB``, ``1.1 GB`` (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
