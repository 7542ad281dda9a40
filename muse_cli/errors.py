"""MuseError and its children: each carries a one-line message a user can act on; ExitCode, the one
table of the process's exit codes (README's "Exit codes" table).

The CLI turns any MuseError into that line on stderr and its ``exit_code``;
MUSE_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1  # any other error
    USAGE = 2  # a bad option or prompt; Click's own usage errors too
    INPUT = 3
    OUTPUT_EXISTS = 4  # an existing output (no --force)
    CHECKPOINT = 5
    DOWNLOAD = 6
    RENDER = 7
    WRITE = 8  # an output that cannot be written (and a Dask cluster that cannot be reached)
    INTERRUPTED = 130  # Ctrl-C


class MuseError(Exception):
    """Base class: ``str(err)`` is the whole message shown to the user. A subclass names its exit code as
    ``class XError(MuseError, exit_code=ExitCode.X)``; a subclass without one keeps its parent's."""

    exit_code = ExitCode.ERROR

    def __init_subclass__(cls, exit_code: ExitCode | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code


class UsageError(MuseError, exit_code=ExitCode.USAGE):
    """A bad option value (temperature <= 0, seconds out of range, ...)."""


class InputError(MuseError, exit_code=ExitCode.INPUT):
    """An input file that cannot be used: unreadable, not MIDI, no melody."""


class NoMelodyError(InputError):
    """A MIDI file without a usable 4/4 melody; the message says why."""


class LatentError(InputError):
    """Latent vectors of the wrong size or with NaN/inf values."""


class OutputExistsError(MuseError, exit_code=ExitCode.OUTPUT_EXISTS):
    """An output file exists and --force was not given."""


class WriteError(MuseError, exit_code=ExitCode.WRITE):
    """An output that cannot be written: a read-only or full disk, a file where a folder should be, stdout closed."""


class CheckpointError(MuseError, exit_code=ExitCode.CHECKPOINT):
    """A checkpoint that is unknown, not installed, incomplete or of the wrong shape."""


class CheckpointNotInstalled(CheckpointError):
    """A registry name that is known but not downloaded yet."""


class DownloadError(MuseError, exit_code=ExitCode.DOWNLOAD):
    """A download that failed after its retries."""


class IntegrityError(DownloadError):
    """A download whose size or sha256 does not match, or an unsafe archive."""


class RenderError(MuseError, exit_code=ExitCode.RENDER):
    """FluidSynth is missing, a SoundFont is unreadable, or the audio came out silent."""


class PromptError(MuseError, exit_code=ExitCode.USAGE):
    """An empty prompt, or a prompt head that does not belong to the checkpoint."""
