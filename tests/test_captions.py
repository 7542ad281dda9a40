"""The caption vocabulary lives in muse_cli/data/captions.json: the captions it gives must not drift.

The prompt head is fitted on these captions, so the same labels and seed must give the same
words, byte for byte, as the vocabulary had when it moved out of the code (the hash below is of
the captions the Python tables gave then). Change it only with a deliberate vocabulary change.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from test_prompt import synthetic_tunes

from muse_cli.training import captions as cap

VALUES = {
    "source": ["irish", "american", "scottish", "german", "chinese", "luxembourgish", "lorraine", "swiss", "austrian"]
    + ["swedish", "bach"],
    "type": ["reel", "hornpipe", "strathspey", "fling", "march", "polka", "lullaby", "children", "hymn", "love"]
    + ["ballad", "dance", "wedding", "farewell", "xiaodiao", "mountain", "air"],
    "key": ["C major", "E- minor", "F# major"],
    "mode": ["major", "minor"],
    "register": ["high", "low"],
    "density": ["busy", "sparse"],
    "contour": ["rising", "falling", "arch"],
    "motion": ["stepwise", "leaping"],
    "range": ["wide", "narrow"],
}
ORIGINS = ["Asien, China, Shanxi", "Europa, Luxemburg", "Lothringen", "Irland", "Schweiz", "Oesterreich"]
ORIGINS += ["Schweden", "Deutschland", "Polen"]
RHYTHMS = ["reel", "Hornpipe", "strathspey", "clog", "fling", "quick step", "Marsch", "polka", "Wiegenlied"]
RHYTHMS += ["Kinderlied", "geistlich", "Liebeslied", "Ballade", "Tanz", "Hochzeit", "Abschied", "xiaodiao"]
RHYTHMS += ["shange", "air", "jig", ""]
CAPTIONS_SHA256 = "dcb7a66ac6a5407b74aa240d4df4ca965cf213751f6ac6288a17fc2199ab81b4"


def all_captions() -> list[str]:
    """1200 rendered captions (train and held-out wordings), the labels of 1134 tunes, a caption pool."""
    out = []
    rng = np.random.default_rng(5)
    for i in range(600):
        attrs = [a for a in VALUES if rng.random() < 0.4]
        labels = {a: VALUES[a][int(rng.integers(len(VALUES[a])))] for a in attrs}
        for wording in ("train", "heldout"):
            out.append(cap.render(labels, np.random.default_rng([i, len(wording)]), wording))
    for coll in ("oneills1850", "ryansMammoth", "airdsAirs", "bach", "essenFolksong", "other"):
        for origin in ORIGINS:
            for rhythm in RHYTHMS:
                fields = {"O": origin, "R": rhythm}
                t = {"collection": coll, "fields": fields, "title": "T", "key": "C", "mode": "major"}
                out.append(f"{cap.region_of(t)}|{cap.type_of(t)}|{json.dumps(cap.tune_labels(t), sort_keys=True)}")
    win = cap.collect_windows(synthetic_tunes(), 300, seed=0)
    texts, labels = cap.caption_pool(win, 200, seed=3)
    return out + texts + [json.dumps(lab, sort_keys=True) for lab in labels]


def test_the_vocabulary_gives_the_same_captions_for_the_same_seeds():
    captions = all_captions()
    assert len(captions) == 2734
    assert hashlib.sha256("\n".join(captions).encode()).hexdigest() == CAPTIONS_SHA256


def test_every_label_has_train_words_and_heldout_words_never_repeat_them():
    vocabulary = json.loads(cap.VOCABULARY_FILE.read_text())
    for table in ("adjectives", "phrases_after", "nouns"):
        for key, entry in vocabulary[table].items():
            assert entry["train"], f"{table}[{key!r}] has no train wording"
            assert not set(entry["train"]) & set(entry["heldout"]), f"{table}[{key!r}]"
