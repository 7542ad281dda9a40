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
    """Base class: ``str(err)`` is the whole message shown to the user."""

    exit_code = ExitCode.ERROR


class UsageError(MuseError):
    """A bad option value (temperature <= 0, seconds out of range, ...)."""

    exit_code = ExitCode.USAGE


class InputError(MuseError):
    """An input file that cannot be used: unreadable, not MIDI, no melody."""

    exit_code = ExitCode.INPUT


class NoMelodyError(InputError):
    """A MIDI file without a usable 4/4 melody; the message says why."""


class LatentError(InputError):
    """Latent vectors of the wrong size or with NaN/inf values."""


class OutputExistsError(MuseError):
    """An output file exists and --force was not given."""

    exit_code = ExitCode.OUTPUT_EXISTS


class WriteError(MuseError):
    """An output that cannot be written: a read-only or full disk, a file where a folder should be, stdout closed."""

    exit_code = ExitCode.WRITE


class CheckpointError(MuseError):
    """A checkpoint that is unknown, not installed, incomplete or of the wrong shape."""

    exit_code = ExitCode.CHECKPOINT


class CheckpointNotInstalled(CheckpointError):
    """A registry name that is known but not downloaded yet."""


class DownloadError(MuseError):
    """A download that failed after its retries."""

    exit_code = ExitCode.DOWNLOAD


class IntegrityError(DownloadError):
    """A download whose size or sha256 does not match, or an unsafe archive."""


class RenderError(MuseError):
    """FluidSynth is missing, a SoundFont is unreadable, or the audio came out silent."""

    exit_code = ExitCode.RENDER


class PromptError(MuseError):
    """An empty prompt, or a prompt head that does not belong to the checkpoint."""

    exit_code = ExitCode.USAGE
