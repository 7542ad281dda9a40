"""Training captions from real data: 2-bar windows of music21's corpus tunes, each labelled from
the tune's metadata (collection, ABC ``O:`` origin, ``R:`` rhythm, title, key) and from features
measured on the window itself (register, density, contour, motion, range, mode).

A caption names a few of a window's labels in words. Words come in two sets: ``train``
wordings (templates and synonyms the head sees) and ``heldout`` wordings kept back for the
adherence evaluation, so that it measures paraphrases the head was never shown.

Pure NumPy and the standard library: no TensorFlow here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from muse_cli.encoding import (
    DUPLE_METERS,
    FIRST_NOTE,
    STEPS_PER_BAR,
    WINDOW_STEPS,
)
from muse_cli.features import measure
from muse_cli.midi import notes_to_events
from muse_cli.settings import PACKAGE_DIR

HOP = STEPS_PER_BAR  # a window starts at every 4/4 bar, as in the VAE's training data
MIN_NOTES = 3
ATTRIBUTES = ("source", "type", "key", "mode", "register", "density", "contour", "motion", "range")
VOCABULARY_FILE = PACKAGE_DIR / "data" / "captions.json"  # region names, type patterns and every wording


# -- windows ------------------------------------------------------------------
@dataclass
class Windows:
    """Corpus windows and their labels (parallel arrays and lists)."""

    events: np.ndarray  # int64 [n, 32]
    tune: list  # tune id per window
    split: list  # train / valid / test, by tune
    feats: dict  # feature name -> float array [n]
    labels: list  # per window: {attribute: value}

    def __len__(self) -> int:
        return len(self.events)


def tune_windows(tune: dict) -> list[tuple[int, np.ndarray]]:
    """(start_step, events) of every 2-bar window with at least MIN_NOTES onsets, one per bar."""
    from muse_cli.training.corpus import grid_notes

    notes = grid_notes(tune)
    if not notes:
        return []
    total = max(e for _, _, e in notes)
    out = []
    for start in range(0, max(1, total - HOP), HOP):
        ev = notes_to_events(notes, start, WINDOW_STEPS)
        if int((ev >= FIRST_NOTE).sum()) >= MIN_NOTES:
            out.append((start, ev))
    return out


def collect_windows(
    tunes: list[dict], max_windows: int, seed: int = 0, splits=("train",), meters=DUPLE_METERS, per_tune: int = 8
) -> Windows:
    """Up to ``per_tune`` random windows of each tune in ``meters``, at most ``max_windows`` in all."""
    rng = np.random.default_rng(seed)
    chosen = [t for t in tunes if t.get("split", "train") in splits and set(t["meters"]) <= set(meters)]
    picked = []
    for t in chosen:
        wins = tune_windows(t)
        if len(wins) > per_tune:
            idx = np.sort(rng.choice(len(wins), per_tune, replace=False))
            wins = [wins[i] for i in idx]
        picked.extend((t, ev) for _, ev in wins)
    if len(picked) > max_windows:
        idx = np.sort(rng.choice(len(picked), max_windows, replace=False))
        picked = [picked[i] for i in idx]
    events = np.stack([ev for _, ev in picked]) if picked else np.zeros((0, WINDOW_STEPS), np.int64)
    fl = measure(events)
    feats = {k: np.array([f[k] for f in fl], float) for k in (fl[0] if fl else {})}
    labels = [tune_labels(t) for t, _ in picked]
    add_measured_labels(labels, feats)
    return Windows(events, [t["id"] for t, _ in picked], [t.get("split", "train") for t, _ in picked], feats, labels)


# Thresholds on measured features. Register and density use quantiles of the windows at hand
# (so a checkpoint's own data decides what "high" means); the rest are fixed musical limits.
QUANTILE_LABELS = {"register": ("mean_pitch", "low", "high"), "density": ("density", "sparse", "busy")}
LOW_Q, HIGH_Q = 0.3, 0.7


def add_measured_labels(labels: list[dict], feats: dict) -> None:
    if not labels:
        return
    for attr, (feat, lo_name, hi_name) in QUANTILE_LABELS.items():
        lo, hi = np.quantile(feats[feat], [LOW_Q, HIGH_Q])
        for lab, v in zip(labels, feats[feat]):
            if v <= lo:
                lab[attr] = lo_name
            elif v >= hi:
                lab[attr] = hi_name
    for i, lab in enumerate(labels):
        slope, arch = feats["slope"][i], feats["arch"][i]
        if slope >= 2.0:
            lab["contour"] = "rising"
        elif slope <= -2.0:
            lab["contour"] = "falling"
        elif arch >= 4.0:
            lab["contour"] = "arch"
        step = feats["stepwise"][i]
        if feats["note_count"][i] >= 4:
            if step >= 0.8:
                lab["motion"] = "stepwise"
            elif step <= 0.45:
                lab["motion"] = "leaping"
        rng_ = feats["pitch_range"][i]
        if rng_ >= 12:
            lab["range"] = "wide"
        elif rng_ <= 5:
            lab["range"] = "narrow"
        mmm = feats["major_minus_minor"][i]
        tune_mode = lab.pop("_tune_mode", "")
        if tune_mode == "major" and mmm > 0.05:
            lab["mode"] = "major"
        elif tune_mode == "minor" and mmm < -0.05:
            lab["mode"] = "minor"


def region_of(tune: dict) -> str:
    """The region a tune comes from: its collection's, or (Essen folksongs) the first place named in ``O:``."""
    coll = tune["collection"]
    if coll in VOCABULARY["collection_regions"]:
        return VOCABULARY["collection_regions"][coll]
    if coll != "essenFolksong":
        return ""
    origin = tune["fields"].get("O", "")
    for needle, region in VOCABULARY["origin_regions"]:
        if needle in origin:
            return region
    return ""


def type_of(tune: dict) -> str:
    """The tune's type (reel, march, lullaby...) from its ``R:`` field and title: the first pattern that matches."""
    if tune["collection"] == "bach":
        return "hymn"
    text = f"{tune['fields'].get('R', '')} | {tune.get('title', '')}".lower()
    for pattern, name in VOCABULARY["type_patterns"]:
        if re.search(pattern, text):
            return name
    return ""


def tune_labels(tune: dict) -> dict:
    lab = {}
    region = region_of(tune)
    if region:
        lab["source"] = region
    kind = type_of(tune)
    if kind:
        lab["type"] = kind
    if tune.get("key") and tune.get("mode") in ("major", "minor"):
        lab["key"] = f"{tune['key']} {tune['mode']}"
        lab["_tune_mode"] = tune["mode"]
    return lab


# -- words ----------------------------------------------------------------------
# Each label: (train wordings, held-out wordings). ADJ goes before the noun, POST after it.
def _load_vocabulary() -> dict:
    return json.loads(VOCABULARY_FILE.read_text(encoding="utf-8"))


def _wordings(entry: dict) -> tuple[list[str], list[str]]:
    return entry["train"], entry["heldout"]


def _by_label(table: dict) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """{"register high": {...}} -> {("register", "high"): (train, heldout)}"""
    return {tuple(key.split(" ", 1)): _wordings(entry) for key, entry in table.items()}


VOCABULARY = _load_vocabulary()
ADJ = _by_label(VOCABULARY["adjectives"])
POST = _by_label(VOCABULARY["phrases_after"])
NOUN = {kind: _wordings(entry) for kind, entry in VOCABULARY["nouns"].items()}
SOURCE_NOUN = VOCABULARY["source_nouns"]
PREFIX = _wordings(VOCABULARY["prefixes"])
KEY_POST = _wordings(VOCABULARY["key_phrases"])


def _key_words(value: str) -> str:
    tonic, mode = value.split()
    tonic = tonic.replace("-", " flat").replace("#", " sharp")
    return f"{tonic} {mode}"


def render(labels: dict, rng: np.random.Generator, wording: str = "train") -> str:
    """One caption naming ``labels`` ({attribute: value}), in ``wording`` ('train' or 'heldout')."""
    w = 0 if wording == "train" else 1

    def pick(options: tuple) -> str | None:
        pool = options[w] or options[0]
        return pool[int(rng.integers(len(pool)))] if pool else None

    kind = labels.get("type", "")
    noun = pick(NOUN.get(kind, NOUN[""]))
    if not kind and labels.get("source") in SOURCE_NOUN and rng.random() < 0.5:
        noun = SOURCE_NOUN[labels["source"]]
    adjs, posts = [], []
    for attr in ATTRIBUTES:
        if attr == "type" or attr not in labels:
            continue
        value = labels[attr]
        if attr == "key":
            posts.append(pick(KEY_POST).format(key=_key_words(value)))
            continue
        adj, post = ADJ.get((attr, value)), POST.get((attr, value))
        if adj and (not post or rng.random() < 0.5):
            adjs.append(pick(adj))
        elif post:
            posts.append(pick(post))
    rng.shuffle(adjs)
    rng.shuffle(posts)
    prefix = pick(PREFIX)
    text = " ".join([*adjs, noun])
    if posts:
        if len(posts) == 1:
            text += " " + posts[0]
        else:
            text += " " + ", ".join(posts[:-1]) + " and " + posts[-1]
    text = (prefix + text).strip()
    if prefix.endswith("a ") and re.match(r"[aeiouAEIOU]", text[len(prefix) :]):
        text = text[: len(prefix) - 2] + "an " + text[len(prefix) :]
    return text


def caption_pool(
    win: Windows, size: int, seed: int = 0, max_attrs: int = 4, generic_share: float = 0.02
) -> tuple[list[str], list[dict]]:
    """``size`` distinct training captions, each with the labels it names.

    Captions name 1..max_attrs labels of a random window (one label alone half of the time,
    so each label is also learnt on its own); a few name nothing ("a melody").
    """
    rng = np.random.default_rng([seed, 7])
    seen: dict[str, dict] = {}
    tries = 0
    while len(seen) < size and tries < size * 20:
        tries += 1
        if rng.random() < generic_share:
            labels = {}
        else:
            lab = win.labels[int(rng.integers(len(win)))]
            if not lab:
                continue
            keys = list(lab)
            k = 1 if rng.random() < 0.5 else int(rng.integers(1, min(max_attrs, len(keys)) + 1))
            labels = {a: lab[a] for a in rng.choice(keys, k, replace=False)}
        text = render(labels, rng, "train")
        seen.setdefault(text, labels)
    return list(seen), list(seen.values())


def matches(win: Windows, caption_labels: list[dict]) -> list[np.ndarray]:
    """For each caption, the indices of the windows that carry every label it names."""
    index: dict[tuple, set] = {}
    for i, lab in enumerate(win.labels):
        for item in lab.items():
            index.setdefault(item, set()).add(i)
    everything = np.arange(len(win))
    out = []
    for labels in caption_labels:
        if not labels:
            out.append(everything)
            continue
        sets = sorted((index.get(item, set()) for item in labels.items()), key=len)
        common = set.intersection(*sets) if sets else set()
        out.append(np.array(sorted(common), np.int64))
    return out
