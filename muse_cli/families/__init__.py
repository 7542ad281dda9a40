"""Codecs of MusicVAE's model families: MIDI <-> the tensors a config's model reads and writes.

One module per family, each a port of magenta's data converter (NumPy and pretty_midi only, no TensorFlow,
magenta or note_seq), tested against magenta's own converter. Each codec exposes ``STEPS``, ``INPUT_DEPTH``,
``OUTPUT_DEPTH``, ``CONTROL_DEPTH``, ``read(data, source)``, ``to_windows(song)`` and
``to_parts(outputs, start_step=0, controls=None)``. Drum class tables (magenta's 9 reduced, 9 Roland and
61 full General MIDI classes) and General MIDI drum names live in :mod:`muse_cli.families.drums`.
"""
