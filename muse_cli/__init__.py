"""muse: melodies from Magenta's MusicVAE.

The public API. Nothing heavy is imported here, so ``import muse_cli`` stays fast.
:func:`load_model` runs the model in NumPy by default (the ``numpy`` engine, from the
checkpoint's exported weights): generating melodies never imports TensorFlow. TensorFlow
and magenta load only for ``engine="magenta"`` (magenta's TrainedModel, the reference),
for ``encode(..., refine=N)``, and when a checkpoint's weights are exported the first time.

    import muse_cli
    model = muse_cli.load_model()                 # the embedded default checkpoint
    melodies = muse_cli.sample(model, n=4, seconds=16, seed=1)
    open("a.mid", "wb").write(melodies[0].midi())
    open("a.wav", "wb").write(muse_cli.render(melodies[0].midi()))

The same calls play MusicVAE's other families (drums, grooves, melodies over chords, 16-bar melodies and trios):
``load_model("cat-drums_2bar_small.lokl")`` and they go to :mod:`muse_cli.family_model`; ``read`` reads a MIDI
file as a model's family reads it, ``regroove`` is `muse groove` / `muse drumify`.
"""

from __future__ import annotations

from muse_cli.settings import VERSION as __version__

__all__ = [
    "load_model",
    "sample",
    "encode",
    "decode",
    "interpolate",
    "vary",
    "render",
    "read_melody",
    "piano_roll_png",
    "text_roll",
    "continue_melody",
    "read",
    "regroove",
    "__version__",
]


def _family(model):
    """:mod:`muse_cli.family_model` when ``model`` is not a 2-bar melody model, else None."""
    from muse_cli.families import is_melody

    spec = getattr(model, "spec", None)
    if spec is None or is_melody(spec.config):
        return None
    from muse_cli import family_model

    return family_model


def load_model(checkpoint=None, batch_size=8, engine=None):
    """Load a MusicVAE checkpoint by registry name or path (default: the embedded model).

    ``engine``: "numpy" (default, or MUSE_ENGINE) or "magenta" (TrainedModel); both give the same melodies."""
    from muse_cli import model

    return model.load_model(checkpoint, batch_size, engine=engine)


def _chords(chords):
    if chords is None or not isinstance(chords, str):
        return chords
    from muse_cli.families.chords import parse_chords

    return parse_chords(chords)


def sample(
    model,
    n=1,
    seconds=None,
    temperature=1.0,
    seed=None,
    qpm=120.0,
    form=None,
    attrs=None,
    long="conductor",
    chords=None,
):
    """Melodies from the prior. Returns a list of Generated (``.notes``, ``.midi()``).

    Past one 2-bar window the checkpoint's conductor leads each piece, in whole bars (``long="walk"``: the AR(1)
    walk). ``form`` ("AABA"): sections of the piece, a returning letter returns to its first section.
    ``attrs``: attribute sliders, e.g. ``{"density": 1.0, "register": -0.5}`` (see ``muse attrs``).
    Other families: ``chords`` ("C G Am F", for cat-mel_2bar_med_chords); past one window each walks (AR(1))."""
    from muse_cli import model as m

    if _family(model):
        return _family(model).sample(model, n, seconds, temperature, seed, qpm, chords=_chords(chords))
    return m.sample(
        model, n=n, seconds=seconds, temperature=temperature, seed=seed, qpm=qpm, form=form, attrs=attrs, long=long
    )


def encode(model, melodies, sample_z=False, seed=None, refine=None, chords=None):
    """Melodies (from :func:`read_melody`) -> one LatentWindow per 2-bar window: the encoder mean refined by
    ``refine`` gradient steps (None: muse's default, 0: the mean itself); ``sample_z``: a posterior sample.
    Other families: songs from :func:`read`, one LatentWindow per model window, no refinement."""
    from muse_cli import model as m

    if _family(model):
        return _family(model).encode(model, melodies, sample_z=sample_z, seed=seed, chords=_chords(chords))
    return m.encode(model, melodies, sample_z=sample_z, seed=seed, refine=refine)


def decode(model, latents, temperature=1.0, seed=None, qpm=None, attrs=None, chords=None):
    """LatentWindows -> one Generated melody per source (``attrs``: attribute sliders, as for :func:`sample`)."""
    from muse_cli import model as m

    if _family(model):
        return _family(model).decode(model, latents, temperature, seed, qpm, chords=_chords(chords))
    return m.decode(model, latents, temperature=temperature, seed=seed, qpm=qpm, attrs=attrs)


def interpolate(model, a, b, steps=5, temperature=1.0, seed=None, qpm=None, concat=False):
    """Spherical interpolation between two melodies' first 2-bar windows (other families: their first windows)."""
    from muse_cli import model as m

    if _family(model):
        return _family(model).interpolate(model, a, b, steps, temperature, seed, qpm, concat)
    return m.interpolate(model, a, b, steps=steps, temperature=temperature, seed=seed, qpm=qpm, concat=concat)


def vary(model, melody, n=8, amount=0.3, temperature=1.0, seed=None, qpm=None, attrs=None, chords=None):
    """``n`` variations of a melody: each window's latent moved toward a random one by ``amount`` (0..1)."""
    from muse_cli import model as m

    if _family(model):
        return _family(model).vary(model, melody, n, amount, temperature, seed, qpm, chords=_chords(chords))
    return m.vary(model, melody, n=n, amount=amount, temperature=temperature, seed=seed, qpm=qpm, attrs=attrs)


def continue_melody(
    model,
    melody,
    seconds=None,
    n=1,
    temperature=1.0,
    seed=None,
    qpm=None,
    form=None,
    keep=False,
    attrs=None,
    long="conductor",
    chords=None,
):
    """``n`` continuations: the melody as written (at its own tempo unless ``qpm``), then ``seconds`` of new bars
    led by the conductor in its key (``long="walk"``: the AR(1) walk; ``keep``: only the new bars). A chord model
    (cat-mel_2bar_med_chords) walks on from the melody's last window over ``chords``."""
    from muse_cli import model as m

    if _family(model):
        return _family(model).continue_piece(model, melody, seconds, n, temperature, seed, qpm, keep, _chords(chords))
    return m.continue_melody(
        model,
        melody,
        seconds,
        n=n,
        temperature=temperature,
        seed=seed,
        qpm=qpm,
        form=form,
        keep=keep,
        attrs=attrs,
        long=long,
    )


def read(model, data, source="MIDI"):
    """MIDI bytes -> what ``model`` reads: a Melody for 2-bar melody models, else its family's song (drums, a
    groove, a trio, a melody and the chords muse marked in it)."""
    if _family(model):
        return _family(model).read(model, data, source)
    return read_melody(data, source)


def regroove(model, song, temperature=1.0, seed=None, qpm=None, chords=None):
    """A song through ``model`` and back (`muse groove` with groovae_2bar_humanize, `muse drumify` with
    groovae_2bar_tap_fixed_velocity; a reconstruction for the others). Returns a list of one Generated."""
    from muse_cli import family_model

    return family_model.regroove(model, song, temperature, seed, qpm, chords=_chords(chords))


def render(midi, rate=44100, soundfont=None):
    """MIDI bytes -> WAV bytes, rendered by FluidSynth."""
    from muse_cli.render import render as _render  # by its module path: the name muse_cli.render is this function

    return _render(midi, rate=rate, soundfont=soundfont)


def read_melody(data, source="MIDI"):
    """MIDI bytes -> the Melody muse would encode (raises NoMelodyError saying why not)."""
    from muse_cli import midi

    return midi.read_melody(data, source)


def piano_roll_png(melodies, labels=None, name=None):
    """A piano-roll PNG (bytes) of a melody (MIDI bytes, a read_melody Melody, a generated melody) or of a list
    laid end to end; ``labels``: one per segment (2-bar window, or list item). Same input, same bytes."""
    from muse_cli import show

    return show.piano_roll_png(melodies, labels=labels, name=name)


def text_roll(melodies, labels=None, width=80, name=None):
    """The same roll in characters for a terminal: a row per pitch, a column per 16th, ``|`` at bar lines."""
    from muse_cli import show

    return show.text_roll(melodies, labels=labels, width=width, name=name)
