"""`muse checkpoints`: the registry's checkpoints and which are installed."""

from __future__ import annotations

import json

import click

from muse_cli.cli.group import cli
from muse_cli.cli.output import _info


@cli.command(name="checkpoints")
@click.option("--json", "json_", is_flag=True, help="Print JSON instead of a table.")
def checkpoints_cmd(json_):
    """List the checkpoints muse knows (checkpoints.toml) and which are installed.

    \b
    Examples:
      muse checkpoints                  name, state, config, description; * marks the default
      muse checkpoints --json
    """
    from muse_cli import registry

    default, entries = registry.load()
    rows = []
    for e in entries.values():
        rows.append(
            {
                "name": e.name,
                "config": e.config,
                "installed": registry.is_installed(e),
                "default": e.name == default,
                "embedded": bool(e.embedded),
                "size": e.size,
                "playable": e.sampling,
                "description": e.description,
            }
        )
    from muse_cli.files import write_stdout

    if json_:
        write_stdout((json.dumps(rows, indent=1) + "\n").encode(), "the list", binary=False)
        return
    lines = []
    for r in rows:
        mark = "*" if r["default"] else " "
        state = "embedded" if r["embedded"] else ("installed" if r["installed"] else "not installed")
        lines.append(f"{mark} {r['name']:<28} {state:<14} {r['config']:<22} {r['description']}\n")
    write_stdout("".join(lines).encode(), "the list", binary=False)
    _info("* default; get others with: muse download NAME")
