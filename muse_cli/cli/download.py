"""`muse download`: parse, call muse_cli.download, write. Registered in the group by muse_cli/cli/__init__.py."""

from __future__ import annotations

from pathlib import Path

import click

from muse_cli import download as dl
from muse_cli import settings
from muse_cli.errors import UsageError
from muse_cli.progress import Progress, size_text


@click.command(name="download")
@click.argument("name", required=False)
@click.option("--url", metavar="URL", help="Fetch the tarball from URL instead of the registry's URL.")
@click.option(
    "--file",
    "tarball",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Install from a tarball already on disk instead of downloading.",
)
@click.option("--list", "list_", is_flag=True, help="The same list as `muse checkpoints`: known and installed ones.")
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
      muse download --list                        the checkpoints known and installed (= muse checkpoints)
      muse download cat-mel_2bar_big              fetch, verify, unpack, install
      muse download cat-mel_2bar_big --file cat-mel_2bar_big.tar   a tarball you copied in
    """
    if list_:
        if name or url or tarball or force:
            raise UsageError("--list takes no NAME, --url, --file or --force")
        from muse_cli.cli.checkpoints import print_checkpoints

        print_checkpoints()  # the one listing, as `muse checkpoints` prints it
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
        click.echo(f"{done.name}: {done.path} ({size_text(done.size)} tarball)")
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


class _Reporter:
    """One stderr line per state change; a progress bar of the bytes when stderr is a terminal."""

    def __init__(self, tty: bool | None = None):
        self.tty = tty
        self.bar: Progress | None = None

    def __call__(self, event: dl.Event) -> None:
        if event.state == "bytes":
            if self.bar is not None:
                self.bar.update(event.done)
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        click.echo(event.message, err=True)
        if event.state in ("downloading", "resuming"):
            self.bar = Progress(event.total, "", "B", every=None, tty=self.tty, start=event.done)
