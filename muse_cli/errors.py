"""MuseError and its children: each carries a one-line message a user can act on.

Exit codes: 0 success, 1 any other error, 2 usage (a bad option or prompt; Click's own usage errors too),
3 input, 4 an existing output (no --force), 5 checkpoint, 6 download, 7 rendering, 8 an output that
cannot be written, 130 interrupted (Ctrl-C).

The CLI turns any MuseError into that line on stderr and its ``exit_code``;
MUSE_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations


class MuseError(Exception):
    """Base class: ``str(err)`` is the whole message shown to the user."""

    exit_code = 1


class UsageError(MuseError):
    """A bad option value (temperature <= 0, seconds out of range, ...)."""

    exit_code = 2


class InputError(MuseError):
    """An input file that cannot be used: unreadable, not MIDI, no melody."""

    exit_code = 3


class NoMelodyError(InputError):
    """A MIDI file without a usable 4/4 melody; the message says why."""


class LatentError(InputError):
    """Latent vectors of the wrong size or with NaN/inf values."""


class OutputExistsError(MuseError):
    """An output file exists and --force was not given."""

    exit_code = 4


class WriteError(MuseError):
    """An output that cannot be written: a read-only or full disk, a file where a folder should be, stdout closed."""

    exit_code = 8


class CheckpointError(MuseError):
    """A checkpoint that is unknown, not installed, incomplete or of the wrong shape."""

    exit_code = 5


class CheckpointNotInstalled(CheckpointError):
    """A registry name that is known but not downloaded yet."""


class DownloadError(MuseError):
    """A download that failed after its retries."""

    exit_code = 6


class IntegrityError(DownloadError):
    """A download whose size or sha256 does not match, or an unsafe archive."""


class RenderError(MuseError):
    """FluidSynth is missing, a SoundFont is unreadable, or the audio came out silent."""

    exit_code = 7


class PromptError(MuseError):
    """An empty prompt, or a prompt head that does not belong to the checkpoint."""

    exit_code = 2
