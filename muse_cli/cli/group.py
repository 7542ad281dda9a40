"""The `muse` Click group and main(): the one boundary where a MuseError, a stray OSError or Ctrl-C
becomes one line on stderr and an exit code."""

from __future__ import annotations

import errno
import sys

import click

from muse_cli import settings
from muse_cli.errors import ExitCode, MuseError, WriteError


class _UserError(click.ClickException):
    """A MuseError on its way out: one line on stderr, the error's own exit code."""

    def __init__(self, error: MuseError):
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file=None) -> None:
        click.echo(f"muse: error: {self.message}", err=True)


class _MuseGroup(click.Group):
    def resolve_command(self, ctx, args):
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None and any(p.name == "attrs" for p in cmd.params):
            from muse_cli.cli.options import spread_attr_pairs

            rest = spread_attr_pairs(rest)  # the form: --attr density=+1 register=-0.5
        return name, cmd, rest

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MuseError as exc:
            if settings.debug():
                raise
            raise _UserError(exc) from exc
        except OSError as exc:  # the last net: a disk or stream error no check above foresaw
            if settings.debug():
                raise
            raise _UserError(_os_error(exc)) from exc
        except KeyboardInterrupt:
            if settings.debug():
                raise
            click.echo("muse: interrupted", err=True)
            ctx.exit(ExitCode.INTERRUPTED)


def _os_error(exc: OSError) -> MuseError:
    """One line for a stray OSError: exit 8 for the ways a write fails, 1 otherwise."""
    where = f"{exc.filename}: " if exc.filename else ""
    why = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in (
        errno.ENOSPC,
        errno.EROFS,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EPIPE,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EEXIST,
        errno.EISDIR,
    ):
        return WriteError(f"{where}{why}")
    return MuseError(f"{where}{why}")


def version_text() -> str:
    """What `muse --version` says: the version, the engine, the default checkpoint and its weights' sha256, and
    whether TensorFlow could be imported (asked of the import system: TensorFlow itself is never imported)."""
    import importlib.util
    from importlib.metadata import version

    from muse_cli import registry

    lines = [f"muse {version('muse-cli')}"]
    try:
        lines.append(f"engine: {settings.engine()} (--engine or MUSE_ENGINE: {', '.join(settings.ENGINES)})")
    except MuseError as exc:
        lines.append(f"engine: {exc}")
    try:
        ckpt = registry.resolve(None)
        lines.append(f"default checkpoint: {ckpt.name} ({ckpt.path})")
        lines.append(f"weights sha256: {ckpt.sha256 or 'not recorded'}")
    except MuseError as exc:
        lines.append(f"default checkpoint: {exc}")
    found = importlib.util.find_spec("tensorflow") is not None
    lines.append(
        "tensorflow: importable (--engine magenta, --refine)"
        if found
        else "tensorflow: not installed (the numpy engine needs none)"
    )
    return "\n".join(lines)


def _version(ctx, param, value) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit()


@click.group(cls=_MuseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Show the version, engine, default checkpoint (with its sha256) and whether TensorFlow is there; then exit.",
)
@click.option("--verbose", "-v", is_flag=True, help="Show TensorFlow's logs.")
def cli(verbose: bool) -> None:
    """Make melodies with Magenta's MusicVAE.

    \b
    Examples:
      muse sample --seconds 16 --seed 7 --wav -o song.mid   a 16-second melody: song.mid and song.wav
      muse sample -n 8 --temperature 0.7 --seed 1 -o out/   out/sample_s1_001.mid ... _008.mid
      muse encode song.mid -o song.npz                      2-bar windows -> latent vectors
      muse decode song.npz -o song.decoded.mid
      muse interpolate out/sample_s1_001.mid out/sample_s1_008.mid --steps 5 --concat -o morph5.mid
      muse render song.decoded.mid                          -> song.decoded.wav
      muse sample -o - | muse render - -o - > stdout.wav

    Set MUSE_DEBUG=1 for tracebacks; MUSE_HOME moves the checkpoint cache.
    Tab completion: eval "$(_MUSE_COMPLETE=bash_source muse)" in ~/.bashrc (zsh_source for zsh,
    fish_source for fish); README, "Shell completion".
    """
    settings.set_verbose(verbose)


def main() -> None:
    """Entry point of the `muse` script."""
    from muse_cli import cpu
    from muse_cli.files import guard_stdout
    from muse_cli.quiet import keep_stdout_clean

    if cpu.refused:  # OPENBLAS_CORETYPE names kernels this CPU cannot run (set aside before NumPy loaded)
        click.echo(f"muse: error: {cpu.refused}", err=True)
        raise SystemExit(ExitCode.USAGE)

    guard_stdout()
    keep_stdout_clean()
    try:
        cli(prog_name="muse")
    except SystemExit as exc:
        raise SystemExit(_flush_stdout(exc.code)) from None


def _flush_stdout(code):
    """Flush stdout before exit: a full or closed pipe becomes one line and exit 8, not Python's shutdown noise."""
    import os

    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as exc:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # what is still buffered goes nowhere, quietly
        os.close(devnull)
        if code in (0, None):
            why = "no space left on the device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            click.echo(f"muse: error: cannot write to stdout: {why}", err=True)
            return WriteError.exit_code
    return code
