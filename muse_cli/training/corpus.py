"""Real melodies from music21's bundled corpus, for training the default model.

music21 9.7.0 ships folk-tune collections (Essen, O'Neill's 1850, Ryan's Mammoth,
Aird's Airs, misc folk) as ABC and Bach's chorales as MusicXML. This module
parses them on every core, keeps one monophonic line per tune (the soprano of a
chorale), and caches the result as gzipped JSON (``tunes.json.gz``: data, never
code; a user's ``--tunes`` file is read with :func:`load_tunes`) so training never
parses twice.

Each tune becomes a dict::

    {"id": "essenFolksong/han1.abc#3", "collection": "essenFolksong",
     "file": "han1", "title": ..., "fields": {"R": "reel", "O": "China, ..."},
     "meter": "2/4", "meters": ["2/4"], "bar_quarters": 2.0,
     "key": "D", "mode": "minor",
     "notes": [(pitch, start_quarter, end_quarter), ...]}  # bar 1 starts at 0

Offsets are in quarter notes with any pickup shifted so that bar lines fall on
multiples of ``bar_quarters``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from pathlib import Path

COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk", "bach")
SPLIT_FRACTIONS = (0.90, 0.05, 0.05)  # train, validation, test: by tune


def _corpus_root() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def list_sources() -> list[tuple[str, str, str]]:
    """(collection, path, text-or-empty) work items: one per ABC tune, one per chorale file."""
    root = _corpus_root()
    items: list[tuple[str, str, str]] = []
    for coll in COLLECTIONS:
        base = root / coll
        if coll == "bach":
            for p in sorted(base.glob("bwv*.mxl")) + sorted(base.glob("bwv*.xml")):
                items.append((coll, str(p), ""))
            continue
        for p in sorted(base.glob("*.abc")):
            text = p.read_text(encoding="latin-1")
            header, tunes = _split_abc(text)
            for i, tune in enumerate(tunes):
                items.append((coll, f"{p}#{i}", header + tune))
    return items


def _split_abc(text: str) -> tuple[str, list[str]]:
    parts = re.split(r"(?m)^(?=X:)", text)
    header = parts[0] if parts and not parts[0].startswith("X:") else ""
    tunes = [t for t in parts if t.startswith("X:")]
    # music21 only needs the file header lines that set defaults (L:, M:, K:).
    header = "".join(line + "\n" for line in header.splitlines() if re.match(r"^[LMK]:", line))
    return header, tunes


def _abc_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^([TROCNSZ]):\s*(.*)$", line)
        if m and m.group(1) not in fields:
            fields[m.group(1)] = m.group(2).strip().rstrip("]").strip()
    return fields


def parse_item(item: tuple[str, str, str]) -> dict | None:
    """Parse one work item into a tune dict, or None when it holds no usable melody."""
    import music21
    from music21 import converter, meter

    coll, path, text = item
    try:
        if text:
            score = converter.parse(text, format="abc")
            fields = _abc_fields(text)
        else:
            score = converter.parse(path)
            fields = {"T": str(score.metadata.title or "") if score.metadata else ""}
        if isinstance(score, music21.stream.Opus):
            score = score.scores[0]
        parts = list(score.parts) if hasattr(score, "parts") and score.parts else [score]
        part = parts[0]
        tss = list(part.recurse().getElementsByClass(meter.TimeSignature))
        if not tss:
            return None
        meters = sorted({ts.ratioString for ts in tss})
        bar_q = float(tss[0].barDuration.quarterLength)
        mono = _melody(part, _pickup(part, bar_q))
        if mono is None:
            return None
        try:
            k = part.flatten().analyze("key")
            key_name, mode = k.tonic.name, k.mode
        except Exception:
            key_name, mode = "", ""
        name = Path(path.split("#")[0]).stem
        return {
            "id": f"{coll}/{name}{'#' + path.split('#')[1] if '#' in path else ''}",
            "collection": coll,
            "file": name,
            "title": fields.get("T", ""),
            "fields": fields,
            "meter": tss[0].ratioString,
            "meters": meters,
            "bar_quarters": bar_q,
            "key": key_name,
            "mode": mode,
            "notes": mono,
        }
    except Exception:
        return None


def _pickup(part, bar_q: float) -> float:
    """Quarters to shift a part whose first bar is a pickup, so that bar lines fall on whole bars."""
    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        return 0.0
    first = measures[0]
    pad = float(first.paddingLeft or 0.0)
    if pad == 0.0 and float(first.duration.quarterLength) < bar_q - 1e-6 and len(measures) > 1:
        pad = bar_q - float(first.duration.quarterLength)
    return pad


def _melody(part, shift: float) -> list[tuple[int, float, float]] | None:
    """(pitch, start, end) in quarters of the part's top line, made monophonic; None under 8 notes."""
    from music21 import note

    notes = []
    for n in part.flatten().notes:
        if isinstance(n, note.Note):
            pitch = n.pitch.midi
        else:  # a chord in a melody line: keep its top note
            pitch = max(p.midi for p in n.pitches)
        start = float(n.getOffsetInHierarchy(part)) + shift
        dur = float(n.duration.quarterLength)
        if dur <= 0:
            continue  # grace notes
        notes.append((int(pitch), start, start + dur))
    if len(notes) < 8:
        return None
    notes.sort(key=lambda x: (x[1], -x[0]))
    mono = []
    for p, s, e in notes:  # enforce monophony: a later onset cuts the previous note
        if mono and s < mono[-1][2]:
            if s <= mono[-1][1]:
                continue
            mono[-1] = (mono[-1][0], mono[-1][1], s)
        mono.append((p, s, e))
    return mono


def grid_notes(tune: dict) -> list[tuple[int, int, int]]:
    """A tune's notes (pitch, start_step, end_step) on magenta's 16th grid (4 steps a quarter, as 4/4 at any
    meter), rounded to the nearest step, each at least one step long; notes outside the piano range are left out."""
    from muse_cli.encoding import MAX_PITCH, MIN_PITCH, STEPS_PER_QUARTER

    notes = [
        (int(p), round(s * STEPS_PER_QUARTER), round(e * STEPS_PER_QUARTER)) for p, s, e in tune["notes"] if s >= 0
    ]
    return [(p, s, max(e, s + 1)) for p, s, e in notes if MIN_PITCH <= p <= MAX_PITCH]


def split_of(tune_id: str) -> str:
    """Deterministic train/valid/test split by tune, from a hash of its id."""
    h = int(hashlib.sha256(tune_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if h < SPLIT_FRACTIONS[0]:
        return "train"
    if h < SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]:
        return "valid"
    return "test"


DEFAULT_TUNES = Path("build/corpus/tunes.json.gz")
_KEYS = ("id", "meter", "notes")


def save_tunes(tunes: list[dict], path: Path) -> None:
    """Write ``tunes`` as gzipped JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6) as f:
        json.dump(tunes, f, separators=(",", ":"))
    os.replace(tmp, path)


def load_tunes(path: Path, option: str = "--tunes") -> list[dict]:
    """The tunes of a corpus file (gzipped JSON from :func:`build`); UsageError naming ``option`` and the file when
    it is not one. Nothing in it is ever executed (no pickle)."""
    from muse_cli.errors import UsageError

    hint = "make one with: python -m muse_cli.training.corpus (make train does)"
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            tunes = json.load(f)
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {path}: not a readable corpus file (gzipped JSON) ({exc}); {hint}") from None
    ok = isinstance(tunes, list) and all(isinstance(t, dict) and all(k in t for k in _KEYS) for t in tunes)
    if not ok or not all(
        isinstance(n, list) and len(n) == 3 and all(isinstance(v, (int, float)) for v in n)
        for t in tunes
        for n in t["notes"]
    ):
        raise UsageError(f"{option} {path}: not a corpus file (a list of tunes with id, meter and notes); {hint}")
    for t in tunes:
        t.setdefault("split", split_of(str(t["id"])))
    return tunes


def build(cache: Path, workers: int | None = None, limit: int | None = None) -> list[dict]:
    """Parse the corpus on every core and cache the tunes at ``cache`` (gzipped JSON); read the cache if it exists."""
    import multiprocessing as mp

    from muse_cli.progress import Progress

    if Path(cache).exists():
        return load_tunes(cache, "corpus cache")
    items = list_sources()
    if limit:
        items = items[:limit]
    workers = workers or os.cpu_count() or 1
    tunes = []
    with mp.get_context("fork").Pool(workers) as pool, Progress(len(items), "parsing the corpus", "files") as bar:
        for tune in pool.imap(parse_item, items, chunksize=16):
            if tune is not None:
                tune["split"] = split_of(tune["id"])
                tunes.append(tune)
            bar.advance(1)
    save_tunes(tunes, cache)
    return json.loads(json.dumps(tunes))  # what a reader of the cache gets: lists, not tuples


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_TUNES)
    tunes = build(out)
    print(f"{len(tunes)} tunes, {sum(len(t['notes']) for t in tunes)} notes -> {out}")
