"""muse: melodies from Magenta's MusicVAE. Public API; heavy imports happen inside the functions."""

__version__ = "0.1.0"
