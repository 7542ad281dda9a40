"""`muse checkpoints` (and `muse download --list`): the checkpoints muse knows and those installed."""

from __future__ import annotations

import json

import click

from muse_cli.cli.group import cli
from muse_cli.cli.output import _info


@cli.command(name="checkpoints")
@click.option("--json", "json_", is_flag=True, help="Print JSON instead of a table.")
def checkpoints_cmd(json_):
    """List the checkpoints muse knows (checkpoints.toml) and those installed, with their sizes.

    \b
    Examples:
      muse checkpoints                  name, state, size, config, description; * marks the default
      muse checkpoints --json
    """
    print_checkpoints(json_)


def print_checkpoints(json_: bool = False) -> None:
    """The one listing of checkpoints: `muse checkpoints` and `muse download --list` alike."""
    from muse_cli import settings
    from muse_cli.download import list_checkpoints
    from muse_cli.progress import size_text

    rows = list_checkpoints()
    if json_:
        keys = ("name", "config", "installed", "default", "embedded", "size", "disk_size", "playable", "description")
        click.echo(
            json.dumps(
                [{**{k: getattr(r, k) for k in keys}, "state": r.state, "path": str(r.path or "")} for r in rows],
                indent=1,
            )
        )
        return
    table = [("", "NAME", "STATE", "SIZE", "CONFIG", "DESCRIPTION")]
    for r in rows:
        size = size_text(r.size) if r.size else "-"
        table.append(("*" if r.default else "", r.name, r.state, size, r.config, r.description))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        cells = [f"{row[0]:<1}", f"{row[1]:<{widths[1]}}", f"{row[2]:<{widths[2]}}", f"{row[3]:>{widths[3]}}"]
        click.echo(("  ".join([cells[0] + " " + cells[1], *cells[2:], f"{row[4]:<{widths[4]}}", row[5]])).rstrip())
    _info(
        f"* default; size -: not published (known once downloaded); installed in {settings.checkpoints_dir()}; "
        "get others with: muse download NAME"
    )
