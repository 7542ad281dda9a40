"""FluidSynth rendering of MIDI to WAV, SoundFont lookup, WAV writing. Never imports TensorFlow."""

from __future__ import annotations

import io
import sys
import types
import wave
from pathlib import Path

import numpy as np

from muse_cli.errors import InputError, RenderError
from muse_cli.quiet import stdout_to_stderr

SAMPLE_RATE = 44100
SILENCE_PEAK = 1e-4  # below this peak amplitude the audio counts as silent
RELEASE_SECONDS = 1.0  # the WAV goes on this long after the MIDI ends, so its last notes ring out
FADE_SECONDS = 0.25  # and fades to silence over the end of that tail (never a cut at full level)
FLUIDSYNTH_PACKAGE = "libfluidsynth3"


def default_soundfont() -> Path:
    """pretty_midi's bundled General MIDI SoundFont (TimGM6mb.sf2)."""
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def check_soundfont(path: Path) -> Path:
    """RenderError unless ``path`` is a readable file that starts like a SoundFont 2 (RIFF ... sfbk)."""
    sf2 = Path(path)
    try:
        with open(sf2, "rb") as f:
            head = f.read(12)
    except FileNotFoundError:
        raise RenderError(f"SoundFont {sf2} not found; give --soundfont PATH to an .sf2 file") from None
    except OSError as exc:
        raise RenderError(f"SoundFont {sf2} cannot be read: {exc.strerror or exc}") from None
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise RenderError(
            f"{sf2} is not a SoundFont (.sf2 files start with RIFF...sfbk); give --soundfont PATH to an .sf2 file"
        )
    return sf2


_LOADABLE: set = set()  # (path, size, mtime) of SoundFonts FluidSynth has loaded in this process


def _load_check(sf2: Path) -> None:
    """Let FluidSynth itself load the SoundFont once: pretty_midi ignores a failed load and plays nothing."""
    import fluidsynth

    st = sf2.stat()
    key = (str(sf2.resolve()), st.st_size, st.st_mtime_ns)
    if key in _LOADABLE:
        return
    with stdout_to_stderr():
        synth = fluidsynth.Synth()
        try:
            sfid = synth.sfload(str(sf2))
        finally:
            synth.delete()
    if sfid < 0:
        raise RenderError(f"FluidSynth cannot load the SoundFont {sf2}; give --soundfont PATH to a valid .sf2 file")
    _LOADABLE.add(key)


def _check_fluidsynth() -> None:
    try:
        with stdout_to_stderr():
            import fluidsynth  # noqa: F401
    except ImportError as exc:
        if "FluidSynth library" in str(exc):
            raise RenderError(
                f"the FluidSynth library is not installed; install Debian's {FLUIDSYNTH_PACKAGE} "
                f"(sudo apt-get install {FLUIDSYNTH_PACKAGE}) or your system's FluidSynth 2.x"
            ) from None
        raise RenderError(f"pyfluidsynth cannot be imported ({exc}); reinstall muse") from None


def wav_frames(seconds: float, rate: int = SAMPLE_RATE) -> int:
    """Frames of the WAV of a MIDI file that lasts ``seconds``: the file, then RELEASE_SECONDS of release tail."""
    return int(round(seconds * rate)) + int(round(RELEASE_SECONDS * rate))


def synthesize(midi: bytes, rate: int = SAMPLE_RATE, soundfont: Path | None = None, source: str = "MIDI") -> np.ndarray:
    """Float audio in [-1, 1] rendered by FluidSynth: as long as the MIDI file, then the last notes' release
    (RELEASE_SECONDS, faded out over its last FADE_SECONDS); wav_frames() says how many samples."""
    from muse_cli.midi import load_pretty_midi

    if not 8000 <= rate <= 192000:
        raise RenderError(f"--rate {rate} is out of range; use 8000 to 192000 Hz")
    sf2 = check_soundfont(soundfont) if soundfont else default_soundfont()
    pm = load_pretty_midi(midi, source)
    if not any(inst.notes for inst in pm.instruments):
        raise InputError(f"{source} has no notes to render")
    _check_fluidsynth()
    if soundfont:
        _load_check(sf2)
    try:
        with stdout_to_stderr():
            audio = pm.fluidsynth(fs=rate, synthesizer=str(sf2))
    except Exception as exc:
        raise RenderError(f"FluidSynth could not render {source} with {sf2}: {exc}") from None
    n = wav_frames(pm.get_end_time(), rate)  # pretty_midi renders 1 s past the last event: the release is there
    audio = np.asarray(audio, dtype=np.float64)[:n]
    if len(audio) < n:
        audio = np.pad(audio, (0, n - len(audio)))
    fade = min(len(audio), int(FADE_SECONDS * rate))
    if fade:
        audio[-fade:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak < SILENCE_PEAK:
        raise RenderError(
            f"rendering {source} with {sf2.name} gave silence; check that the SoundFont "
            "has General MIDI piano (program 0)"
        )
    if peak > 0.99:
        audio *= 0.99 / peak
    return audio


def wav_bytes(audio: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM WAV."""
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def render(midi: bytes, rate: int = SAMPLE_RATE, soundfont: Path | None = None, source: str = "MIDI") -> bytes:
    """MIDI bytes -> WAV bytes."""
    return wav_bytes(synthesize(midi, rate, soundfont, source), rate)


class _CallableModule(types.ModuleType):
    """``muse_cli.render`` is both the API function and this submodule: once the submodule is imported,
    Python makes the package attribute point here, so calling the module must still render."""

    def __call__(self, midi: bytes, rate: int = SAMPLE_RATE, soundfont: Path | None = None) -> bytes:
        return render(midi, rate=rate, soundfont=soundfont)


sys.modules[__name__].__class__ = _CallableModule
