"""The options of the fitting commands, as light data: ``muse fit-prompt`` shows their defaults in its --help
without importing the fitting code (NumPy, TensorFlow) at start-up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FitOptions:
    steps: int = 1200  # longer fits learn the training wordings better and paraphrases worse (measured)
    windows: int = 20000
    captions: int = 6000
    batch: int = 128
    learning_rate: float = 2e-3
    seed: int = 0
    save_every: int = 250
