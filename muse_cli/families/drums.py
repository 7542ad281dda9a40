"""Drums: magenta's drum pitch classes, General MIDI drum names, and the codecs of the 2-bar drum models.

The one home of the drum class tables: GrooVAE (ROLAND_DRUM_PITCH_CLASSES), the 9-class models
(REDUCED_DRUM_PITCH_CLASSES: cat-drums_2bar_small, the trio's drums) and nade-drums_2bar_full
(FULL_DRUM_PITCH_CLASSES) import them from here. Copied from magenta's music_vae/data.py and note_seq's
drums_encoder_decoder.py; a class's first pitch is the one magenta writes for it.
"""

from __future__ import annotations

# 9 classes (note_seq's DEFAULT_DRUM_TYPE_PITCHES, magenta's REDUCED_DRUM_PITCH_CLASSES): all GM1 and GM2 drums
# (and Roland's 22 and 26, hi-hat edges) mapped onto a small kit.
REDUCED_DRUM_PITCH_CLASSES = (
    (36, 35),  # kick
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),  # snare
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),  # closed hi-hat
    (46, 67, 72, 74, 79, 81, 26),  # open hi-hat
    (45, 29, 41, 43, 61, 64, 84),  # low tom
    (48, 47, 60, 63, 77, 86, 87),  # mid tom
    (50, 30, 62, 76, 83),  # high tom
    (49, 52, 55, 57, 58),  # crash
    (51, 53, 59, 82),  # ride
)
# The names of the 9 classes (of REDUCED and ROLAND alike), in class order.
DRUM_CLASS_NAMES = ("kick", "snare", "closed hi-hat", "open hi-hat", "low tom", "mid tom", "high tom", "crash", "ride")
# GrooVAE's 9 classes: Roland TD-11 V-Drums pitches (magenta's ROLAND_DRUM_PITCH_CLASSES).
ROLAND_DRUM_PITCH_CLASSES = (
    (36,),  # kick
    (38, 37, 40),  # snare
    (42, 22, 44),  # closed hi-hat
    (46, 26),  # open hi-hat
    (43, 58),  # low tom
    (47, 45),  # mid tom
    (50, 48),  # high tom
    (49, 52, 55, 57),  # crash
    (51, 53, 59),  # ride
)
# 61 classes, one pitch each: the full General MIDI set (magenta's FULL_DRUM_PITCH_CLASSES, in its order).
FULL_DRUM_PITCH_CLASSES = tuple(
    (p,)
    for p in (
        36, 35, 38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85, 42, 44, 54, 68, 69, 70, 71, 73, 78, 80,
        46, 67, 72, 74, 79, 81, 45, 29, 41, 61, 64, 84, 48, 47, 60, 63, 77, 86, 87, 50, 30, 43, 62, 76, 83, 49, 55,
        57, 58, 51, 52, 53, 59, 82,
    )
)  # fmt: skip
# General MIDI percussion as pretty_midi spells it (GM1 35-81; GM2 27-34 and 82-87; Roland's hi-hat edges 22, 26).
GM_DRUM_NAMES = {
    22: "Closed Hi Hat (edge)", 26: "Open Hi Hat (edge)",
    27: "High Q", 28: "Slap", 29: "Scratch Push", 30: "Scratch Pull", 31: "Sticks", 32: "Square Click",
    33: "Metronome Click", 34: "Metronome Bell", 35: "Acoustic Bass Drum", 36: "Bass Drum 1", 37: "Side Stick",
    38: "Acoustic Snare", 39: "Hand Clap", 40: "Electric Snare", 41: "Low Floor Tom", 42: "Closed Hi Hat",
    43: "High Floor Tom", 44: "Pedal Hi Hat", 45: "Low Tom", 46: "Open Hi Hat", 47: "Low-Mid Tom",
    48: "Hi-Mid Tom", 49: "Crash Cymbal 1", 50: "High Tom", 51: "Ride Cymbal 1", 52: "Chinese Cymbal",
    53: "Ride Bell", 54: "Tambourine", 55: "Splash Cymbal", 56: "Cowbell", 57: "Crash Cymbal 2", 58: "Vibraslap",
    59: "Ride Cymbal 2", 60: "Hi Bongo", 61: "Low Bongo", 62: "Mute Hi Conga", 63: "Open Hi Conga",
    64: "Low Conga", 65: "High Timbale", 66: "Low Timbale", 67: "High Agogo", 68: "Low Agogo", 69: "Cabasa",
    70: "Maracas", 71: "Short Whistle", 72: "Long Whistle", 73: "Short Guiro", 74: "Long Guiro", 75: "Claves",
    76: "Hi Wood Block", 77: "Low Wood Block", 78: "Mute Cuica", 79: "Open Cuica", 80: "Mute Triangle",
    81: "Open Triangle", 82: "Shaker", 83: "Jingle Bell", 84: "Belltree", 85: "Castanets", 86: "Mute Surdo",
    87: "Open Surdo",
}  # fmt: skip
OUTPUT_VELOCITY = 80  # the velocity magenta's converters write (data.OUTPUT_VELOCITY)


def class_map(pitch_classes) -> dict[int, int]:
    """{MIDI pitch: class index} of a class table (a pitch in two classes goes to the later, as magenta's)."""
    return {p: i for i, pitches in enumerate(pitch_classes) for p in pitches}
