"""Feature-guided choice among candidates: the prompt says which way a melody's measurable
features should move (higher, busier, rising ...); of several melodies drawn from the prompt's
region, keep the one whose measured features fit best.

A ridge regression (the *probe*, :func:`muse_cli.training.prompt_head.probe_from`), fitted beside the head on
the same captions, maps a prompt's mean-pooled token embeddings to the features that the windows its caption
describes have on average (standardized). At generation time the prompt's predicted features ``p`` and the
average prediction over the training captions ``n`` (the probe's reference) give a direction ``d = p - n``;
each candidate melody is measured (mean over its 2-bar windows) and scored by
``-sum_j d_j^2 (f_j - (n_j + g d_j))^2``: attributes the prompt does not move (``d_j`` near 0)
do not count, and those it names pull toward ``n + g d`` with the same guidance ``g`` as the latent
mean. The probe is saved in ``prompt_head/probe.npz``; a head without one samples as before.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from muse_cli.encoding import FIRST_NOTE, WINDOW_STEPS

PROBE = "probe.npz"
FEATURES = ("mean_pitch", "density", "slope", "stepwise", "major_minus_minor", "pitch_range")
CANDIDATES = 16  # melodies drawn per requested melody; the best-fitting one is kept
TARGET_GUIDANCE = 2.0  # the choice aims at reference + TARGET_GUIDANCE * (prediction - reference)
MIN_NOTES = 4  # notes in every 2-bar window for a candidate to be chosen over others


def onsets_per_window(events: np.ndarray) -> np.ndarray:
    """Note onsets in each 2-bar window of a melody's events (magenta's encoding: >= 2 starts a note)."""
    return (np.asarray(events).reshape(-1, WINDOW_STEPS) >= FIRST_NOTE).sum(1)


def plausible(events: np.ndarray) -> bool:
    """At least MIN_NOTES note onsets in every 2-bar window."""
    return bool((onsets_per_window(events) >= MIN_NOTES).all())


def pooled(h: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the unmasked token embeddings [n, 384] (the sentence embedding of MiniLM)."""
    m = np.asarray(mask, np.float32)[..., None]
    return (np.asarray(h, np.float32) * m).sum(1) / np.maximum(m.sum(1), 1.0)


class FeatureProbe:
    """Prompt embedding -> expected standardized features of the melodies it describes."""

    def __init__(
        self,
        weights: np.ndarray,
        bias: np.ndarray,
        feat_mean: np.ndarray,
        feat_std: np.ndarray,
        reference: np.ndarray,
        features: tuple[str, ...] = FEATURES,
    ):
        self.weights, self.bias = weights.astype(np.float32), bias.astype(np.float32)
        self.reference = np.asarray(reference, np.float32)  # mean prediction over the training captions
        self.feat_mean, self.feat_std = feat_mean.astype(np.float64), feat_std.astype(np.float64)
        self.features = tuple(features)

    # -- use -------------------------------------------------------------------------------------
    def predict(self, emb: np.ndarray) -> np.ndarray:
        return np.asarray(emb, np.float32) @ self.weights + self.bias

    def standardize(self, rows: list[dict]) -> np.ndarray:
        f = np.array([[r[k] for k in self.features] for r in rows], np.float64)
        return (f - self.feat_mean) / self.feat_std

    def scores(self, prompt: np.ndarray, neutral: np.ndarray, candidates: np.ndarray, guidance: float) -> np.ndarray:
        """Score of each candidate's standardized features [k, f] (higher fits the prompt better)."""
        d = np.asarray(prompt, np.float64) - np.asarray(neutral, np.float64)
        target = np.asarray(neutral, np.float64) + guidance * d
        return -((d * d)[None, :] * (candidates - target[None, :]) ** 2).sum(1)

    # -- storage -------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            weights=self.weights,
            bias=self.bias,
            feat_mean=self.feat_mean,
            feat_std=self.feat_std,
            reference=self.reference,
            features=np.array(self.features),
        )
        return buf.getvalue()

    @classmethod
    def load(cls, directory: Path) -> FeatureProbe | None:
        path = Path(directory) / PROBE
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as d:
            return cls(
                d["weights"],
                d["bias"],
                d["feat_mean"],
                d["feat_std"],
                d["reference"],
                tuple(str(s) for s in d["features"]),
            )


def melody_features(events: np.ndarray) -> dict:
    """Features of a melody's events (a multiple of 32 steps): the mean over its 2-bar windows."""
    from muse_cli.features import measure

    ev = np.asarray(events).reshape(-1, WINDOW_STEPS)
    rows = measure(ev)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
