"""Codecs of the MusicVAE family: one module per family, each a NumPy port of magenta's data converter
(no TensorFlow, magenta or note_seq here)."""
