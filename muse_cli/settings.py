"""Every environment variable and path muse reads, in one place.

MUSE_HOME       where muse keeps downloaded checkpoints and its cache (else the user cache
                folder platformdirs names: on Linux $XDG_CACHE_HOME/muse, else ~/.cache/muse)
MUSE_DEBUG=1    show full tracebacks instead of one-line errors
MUSE_VERBOSE=1  let TensorFlow's start-up logs through (same as --verbose)
MUSE_MIRROR     a base URL that replaces https://storage.googleapis.com/magentadata
                at the start of checkpoint URLs (see muse_cli.download)
MUSE_SCHEDULER  a Dask scheduler address (tcp://HOST:PORT) for `muse batch`
MUSE_ENGINE     numpy (default) or magenta: which engine runs the model (same as --engine)
"""

from __future__ import annotations

import math
import os
from pathlib import Path

VERSION = "0.1.0"  # muse_cli.__version__ and pyproject.toml's version
PACKAGE_DIR = Path(__file__).resolve().parent
# checkpoints.toml lives at the top of the source tree; wheels carry a copy inside the package.
REGISTRY_FILE = next(
    (p for p in (PACKAGE_DIR / "checkpoints.toml", PACKAGE_DIR.parent / "checkpoints.toml") if p.exists()),
    PACKAGE_DIR.parent / "checkpoints.toml",
)
EMBEDDED_DIR = PACKAGE_DIR / "checkpoints"
MAX_SECONDS = 600.0  # longest --seconds accepted: 10 minutes of melody
MAX_NUM = 10000  # most melodies one `muse sample` call makes
MAX_TEMPERATURE = 100.0  # highest --temperature accepted (far past pure noise; inf and 1e9 are typos)
TEMPERATURE_RANGE = f"> 0 and at most {MAX_TEMPERATURE:g}"  # what temperature_ok accepts, in words
MAX_LATENT_ROWS = MAX_NUM  # most latent vectors one latent file may hold
MAX_INPUT_BYTES = 256 * 2**20  # largest input file read (MIDI, latents): a device like /dev/zero stops here
MIN_QPM, MAX_QPM = 20.0, 400.0  # tempo accepted from --qpm, a job's qpm or a prompt's words (quarter notes/min)
MAX_ATTR = 3.0  # largest |value| of --attr NAME=VALUE: past it the latent leaves the prior's bulk
MAX_START_BAR = 1_000_000  # a start_bar past this cannot be decoded within MAX_SECONDS at any tempo


def temperature_ok(value) -> bool:
    """A sampling temperature muse accepts, from --temperature or a batch job's "temperature" alike."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and 0 < value <= MAX_TEMPERATURE


def home() -> Path:
    """MUSE_HOME, else the platform's user cache folder for muse (Linux: $XDG_CACHE_HOME/muse, else ~/.cache/muse)."""
    if os.environ.get("MUSE_HOME"):
        return Path(os.environ["MUSE_HOME"]).expanduser()
    import platformdirs  # ~20 ms, and only when MUSE_HOME is unset

    return platformdirs.user_cache_path("muse", appauthor=False)


def checkpoints_dir() -> Path:
    return home() / "checkpoints"


def styles_dir() -> Path:
    """Styles fitted by `muse fit-style` (NAME.npz: a conductor adapted to a folder of tunes)."""
    return home() / "styles"


def debug() -> bool:
    return os.environ.get("MUSE_DEBUG", "") not in ("", "0")


def verbose() -> bool:
    return os.environ.get("MUSE_VERBOSE", "") not in ("", "0")


def set_verbose(on: bool) -> None:
    if on:
        os.environ["MUSE_VERBOSE"] = "1"


ENGINES = ("numpy", "magenta")


def engine(default: str = ENGINES[0]) -> str:
    """The engine named by MUSE_ENGINE (or --engine), else ``default``."""
    name = os.environ.get("MUSE_ENGINE", "").strip().lower() or default
    if name not in ENGINES:
        from muse_cli.errors import UsageError

        raise UsageError(f"MUSE_ENGINE={name!r} is not an engine; use one of: {', '.join(ENGINES)}")
    return name


def set_engine(name: str | None) -> None:
    if name:
        os.environ["MUSE_ENGINE"] = name


def mirror() -> str | None:
    return os.environ.get("MUSE_MIRROR") or None


def scheduler() -> str | None:
    return os.environ.get("MUSE_SCHEDULER") or None


def downloads_dir() -> Path:
    """Partial downloads (NAME.tar.part) and their lock files."""
    return home() / "downloads"


def known_hashes_file() -> Path:
    """sha256 of checkpoints the registry has no hash for, recorded on first download."""
    return home() / "known_hashes.json"
