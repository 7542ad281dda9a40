"""The `muse` command: one small function per subcommand that parses, calls the library, writes.

Results go to stdout (one line per file written: its path in a pipe, ``wrote PATH (...)`` on a
terminal, one JSON object with ``--json``; or the data itself with ``-o -``); progress and messages
go to stderr (output.announce says each file once). Every MuseError becomes one line on stderr
and a non-zero exit; MUSE_DEBUG=1 shows the traceback instead.

The modules: group (the Click group, the one MuseError boundary, Ctrl-C, main),
options (shared options and their checks), output (output planning and writing,
model loading), and one module per command family: generate (sample, decode,
interpolate), transform (vary, continue), family (those commands for drums, grooves,
chords and 16-bar models; groove, drumify), encode, render, show, checkpoints, batch,
download, eval, prompt (fit-prompt), attrs (attrs, fit-attrs), style (fit-style, styles).
"""

from __future__ import annotations

from muse_cli.cpu import choose_openblas_kernel

choose_openblas_kernel()  # before anything loads NumPy: see muse_cli/cpu.py

from muse_cli.cli import checkpoints, encode, family, generate, render, show, transform  # noqa: E402, F401  (each registers its commands)
from muse_cli.cli.group import cli, main  # noqa: E402


def _register_optional() -> None:
    """Commands that live in their own modules (still light to import)."""
    for module, attr in (
        ("muse_cli.cli.download", "download_command"),
        ("muse_cli.cli.eval", "eval_command"),
        ("muse_cli.cli.batch", "batch_command"),
        ("muse_cli.cli.prompt", "fit_prompt_command"),
        ("muse_cli.cli.attrs", "attrs_command"),
        ("muse_cli.cli.attrs", "fit_attrs_command"),
        ("muse_cli.cli.style", "fit_style_command"),
        ("muse_cli.cli.style", "styles_command"),
    ):
        cli.add_command(getattr(__import__(module, fromlist=[attr]), attr))


_register_optional()

__all__ = ["cli", "main"]
