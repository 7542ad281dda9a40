"""MusicVAE's families: which configs muse plays, how long one window of each is, what each can do, and the
codec that turns its tensors into MIDI parts and back.

One codec module per family, each a port of magenta's data converter (NumPy and pretty_midi only, no TensorFlow,
magenta or note_seq), tested against magenta's own converter. Each codec exposes ``STEPS``, ``INPUT_DEPTH``,
``OUTPUT_DEPTH``, ``CONTROL_DEPTH``, ``read(data, source)``, ``to_windows(song)`` and
``to_parts(outputs, start_step=0, controls=None)``. Drum class tables (magenta's 9 reduced, 9 Roland and
61 full General MIDI classes) and General MIDI drum names live in :mod:`muse_cli.families.drums`.

The 2-bar melody models (cat-mel_2bar_*) have no codec here: their events are :mod:`muse_cli.encoding`'s and their
recipes :mod:`muse_cli.model`'s. Every other config goes through :mod:`muse_cli.family_model` with the codec
named in :data:`FAMILIES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from muse_cli.errors import CheckpointError

MELODY_COMMANDS = ("sample", "encode", "decode", "interpolate", "vary", "continue", "batch", "render", "show")
FAMILY_COMMANDS = ("sample", "encode", "decode", "interpolate", "vary", "batch", "render", "show")


@dataclass(frozen=True)
class Family:
    """What muse knows of one magenta config."""

    name: str  # melody, melody over chords, drums, groove, 16-bar melody, 16-bar trio
    bars: int  # bars in one window the model encodes and decodes
    commands: tuple[str, ...]
    codec: str = ""  # "module:attribute" of the codec object; "" for the 2-bar melody models
    chords: bool = False  # conditioned on a chord progression (--chords)
    verbs: tuple[str, ...] = ()  # the musician's commands for it (muse groove, muse drumify)

    def load_codec(self):
        """The codec object (imported on first use)."""
        module, _, attribute = self.codec.partition(":")
        return getattr(importlib.import_module(module), attribute)


_DRUMS = FAMILY_COMMANDS
_CHORDS = "muse_cli.families.chords:CAT_MEL_2BAR_MED_CHORDS"
FAMILIES: dict[str, Family] = {
    "cat-mel_2bar_small": Family("melody", 2, MELODY_COMMANDS),
    "cat-mel_2bar_big": Family("melody", 2, MELODY_COMMANDS),
    "cat-mel_2bar_med_chords": Family(
        "melody over chords",
        2,
        (*FAMILY_COMMANDS, "continue"),
        "muse_cli.families.chords:CAT_MEL_2BAR_MED_CHORDS",
        chords=True,
    ),
    "cat-drums_2bar_small": Family("drums", 2, _DRUMS, "muse_cli.families.drums:CAT_DRUMS_2BAR_SMALL"),
    "nade-drums_2bar_full": Family("drums", 2, _DRUMS, "muse_cli.families.drums:NADE_DRUMS_2BAR_FULL"),
    "groovae_2bar_humanize": Family(
        "groove", 2, (*_DRUMS, "groove"), "muse_cli.families.groove:GROOVAE_2BAR_HUMANIZE", verbs=("groove",)
    ),
    "groovae_4bar": Family(
        "groove", 4, (*_DRUMS, "groove"), "muse_cli.families.groove:GROOVAE_4BAR", verbs=("groove",)
    ),
    "groovae_2bar_tap_fixed_velocity": Family(
        "groove",
        2,
        (*_DRUMS, "drumify"),
        "muse_cli.families.groove:GROOVAE_2BAR_TAP_FIXED_VELOCITY",
        verbs=("drumify",),
    ),
    "hierdec-mel_16bar": Family("16-bar melody", 16, FAMILY_COMMANDS, "muse_cli.families.trio:MEL_16BAR"),
    "hierdec-trio_16bar": Family("16-bar trio", 16, FAMILY_COMMANDS, "muse_cli.families.trio:TRIO_16BAR"),
}


def family_of(config: str) -> Family:
    """The family of a magenta config; CheckpointError naming the configs muse plays for any other."""
    try:
        return FAMILIES[config]
    except KeyError:
        raise CheckpointError(
            f"config {config!r} is not one muse plays; muse plays {', '.join(FAMILIES)} "
            "(fix the config in the checkpoint's muse.json or the registry)"
        ) from None


def is_melody(config: str) -> bool:
    """Whether ``config`` is a 2-bar melody model (muse_cli.model's recipes)."""
    return family_of(config).codec == ""
