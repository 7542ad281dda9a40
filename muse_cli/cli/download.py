"""`muse download`: parse, call muse_cli.download, write. Registered in the group by muse_cli/cli/__init__.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from muse_cli import download as dl
from muse_cli import settings
from muse_cli.errors import UsageError

BAR_WIDTH = 24
REDRAW_SECONDS = 0.1


@click.command(name="download")
@click.argument("name", required=False)
@click.option("--url", metavar="URL", help="Fetch the tarball from URL instead of the registry's URL.")
@click.option(
    "--file",
    "tarball",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Install from a tarball already on disk instead of downloading.",
)
@click.option("--list", "list_", is_flag=True, help="Show known and installed checkpoints with sizes.")
@click.option("--force", is_flag=True, help="Download and install again even if installed.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=dl.Retry.retries,
    show_default=True,
    help="Retries after a failed connection or a server error (5xx), with doubling waits.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=dl.Retry.timeout,
    show_default=True,
    help="Seconds to wait for the server to connect or send more bytes.",
)
def download_command(name, url, tarball, list_, force, quiet, retries, timeout):
    """Download checkpoint NAME into the cache, verify it and install it.

    The tarball comes from the registry's URL, from --url, or from a mirror:
    MUSE_MIRROR replaces the prefix https://storage.googleapis.com/magentadata
    of registry URLs, so MUSE_MIRROR=http://mirror.lan/magenta fetches
    http://mirror.lan/magenta/models/music_vae/checkpoints/NAME.tar.

    A download cut short keeps its partial file in $MUSE_HOME/downloads; run
    the same command again to resume it. Without a sha256 in the registry the
    first download's hash is recorded and later ones must match it.

    \b
    Examples:
      muse download --list                        known and installed checkpoints, with sizes
      muse download cat-mel_2bar_big              fetch, verify, unpack, install
      muse download cat-mel_2bar_big --file cat-mel_2bar_big.tar   a tarball you copied in
    """
    if list_:
        if name or url or tarball or force:
            raise UsageError("--list takes no NAME, --url, --file or --force")
        _print_listing(dl.list_checkpoints())
        return
    if not name:
        raise UsageError("give a checkpoint name (see: muse download --list)")
    if url and tarball:
        raise UsageError("give --url or --file, not both")
    report = None if quiet else _Reporter()
    if tarball:
        done = dl.install_file(name, tarball, force=force, report=report)
    else:
        done = dl.download(name, url=url, force=force, report=report, retry=dl.Retry(retries=retries, timeout=timeout))
    _print_installed(done)


def _print_installed(done: dl.Installed) -> None:
    if done.reused:
        click.echo(f"{done.name} is already installed in {done.path} (--force installs it again)")
    else:
        click.echo(f"{done.name}: {done.path} ({_size(done.size)} tarball)")
        if done.trust == dl.TRUST_REGISTRY:
            click.echo(f"sha256 {done.sha256} (matches the registry)")
        elif done.recorded:
            click.echo(
                f"sha256 {done.sha256} (trusted on first use: the registry has no hash; "
                f"recorded in {settings.known_hashes_file()}, later downloads must match)"
            )
        else:
            click.echo(f"sha256 {done.sha256} (matches the hash recorded on first use)")
    if done.sampling:
        click.echo(f"use it: muse sample --checkpoint {done.name}")
    else:
        click.echo(
            f"note: muse sample drives 2-bar melody models only; {done.name} is installed "
            f"for magenta's own tools (checkpoint in {done.path})"
        )


def _print_listing(rows: list[dl.Listing]) -> None:
    click.echo(f"cache: {settings.checkpoints_dir()}")
    table = [("NAME", "STATUS", "SIZE", "CONFIG")]
    for row in rows:
        status = "embedded" if row.embedded else ("installed" if row.installed else "-")
        if row.installed and not row.known:
            status = "local"
        size = row.disk_size if row.installed else row.download_size
        table.append((row.name, status, _size(size) if size else "?", row.config))
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    for r in table:
        click.echo(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip())


class _Reporter:
    """One stderr line per state change; a redrawn progress bar when stderr is a terminal."""

    def __init__(self, tty: bool | None = None):
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.started, self.first_byte, self.last_draw, self.drawn = 0.0, 0, 0.0, False

    def __call__(self, event: dl.Event) -> None:
        if event.state == "bytes":
            now = time.monotonic()
            if self.tty and (now - self.last_draw >= REDRAW_SECONDS or event.done == event.total):
                self.last_draw, self.drawn = now, True
                line = _bar_line(event.done, event.total, now - self.started, self.first_byte)
                click.echo(f"\r{line}\x1b[K", err=True, nl=False, color=True)
            return
        if self.drawn:
            click.echo(err=True)
            self.drawn = False
        click.echo(event.message, err=True)
        if event.state in ("downloading", "resuming"):
            self.started, self.first_byte = time.monotonic(), event.done


def _bar_line(done: int, total: int | None, elapsed: float, first_byte: int = 0) -> str:
    """``[####----]  42%  1.2 MB / 2.9 MB  3.4 MB/s  0:01 left`` (bytes, rate, time left)."""
    rate = (done - first_byte) / elapsed if elapsed > 0 else 0.0
    speed = f"{_size(rate)}/s"
    if not total:
        return f"{_size(done)}  {speed}"
    frac = min(done / total, 1.0)
    filled = int(frac * BAR_WIDTH)
    left = _clock((total - done) / rate) if rate > 0 else "?"
    return (
        f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {frac:4.0%}  {_size(done)} / {_size(total)}  "
        f"{speed}  {left} left"
    )


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
