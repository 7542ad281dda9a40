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
    from muse_cli.files import write_stdout
    from muse_cli.progress import size_text

    rows = list_checkpoints()
    if json_:
        keys = ("name", "config", "family", "installed", "default", "embedded", "size", "disk_size", "playable")
        listing = [
            {**{k: getattr(r, k) for k in keys}, "commands": list(r.commands), "description": r.description}
            | {"state": r.state, "path": str(r.path or "")}
            for r in rows
        ]
        write_stdout((json.dumps(listing, indent=1) + "\n").encode(), "the list", binary=False)  # a full or closed
        return  # stdout: one line, exit 8, as every command
    table = [("", "NAME", "STATE", "SIZE", "CONFIG", "PLAYS", "DESCRIPTION")]
    for r in rows:
        size = size_text(r.size) if r.size else "-"
        table.append(("*" if r.default else "", r.name, r.state, size, r.config, r.family or "-", r.description))
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    lines = []
    for row in table:
        cells = [f"{row[0]:<1}", f"{row[1]:<{widths[1]}}", f"{row[2]:<{widths[2]}}", f"{row[3]:>{widths[3]}}"]
        cells += [f"{row[4]:<{widths[4]}}", f"{row[5]:<{widths[5]}}", row[6]]
        lines.append(("  ".join([cells[0] + " " + cells[1], *cells[2:]])).rstrip())
    write_stdout(("\n".join(lines) + "\n").encode(), "the list", binary=False)
    _info(
        f"* default; size -: not published (known once downloaded); installed in {settings.checkpoints_dir()}; "
        "get others with: muse download NAME; what each plays: muse checkpoints --json (commands)"
    )
