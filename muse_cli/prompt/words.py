"""Key and tempo words in a prompt: "a fast happy reel in D major", "a lament in F sharp minor at 60 bpm".

The vocabulary is data (the tables below); :func:`read_words` returns what a prompt names, and
:mod:`muse_cli.prompt.tonality` makes a melody keep the key. The rules:

- A key is a tonic letter A-G, an optional accidental (``#``, ``♯``, ``b``, ``♭``, ``sharp``,
  ``flat``, ``-sharp``, ``-flat``) and a mode word (:data:`MODES`): "D major", "Bb major",
  "f sharp minor", "E dorian", or a chord-style "Am", "F#m" (capital letter only). "in G" or
  "in the key of D" (capital letter, no mode word) means major. A lowercase "a" is the tonic A only
  after "in" or "of" and not before "key", "mode", "scale" or "tonality": "a minor key" and
  "a minor tune" name no key. The first key named counts.
- A tempo is a number with a unit ("at 140 bpm", "90 qpm", "100 beats per minute", "♩ = 120", or
  "tempo 72" with no word after the number), else the first tempo word (:data:`TEMPO_WORDS`, "fast",
  "adagio" ...) not after "not" ("not too fast" names no tempo). A number outside
  settings.MIN_QPM..MAX_QPM is a PromptError (one line), not clamped: "at 0 bpm" or "9999 bpm" is a
  typo the user should see.
  Digits grouped in threes by commas are one number ("120,000 bpm" is 120000, refused); any other
  comma is a decimal point ("92,5 bpm").
- The text is read in Unicode's NFKC form (:func:`normalize`): fullwidth "Ｄ major" and "１２０ bpm"
  read as "D major" and "120 bpm".
- Only the first MAX_CHARS characters are read (the text encoder reads 128 tokens, fewer than that).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from muse_cli import settings
from muse_cli.errors import PromptError
from muse_cli.features import SCALES

LETTERS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
ACCIDENTALS = {"#": 1, "♯": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1}
MAJOR, MINOR = SCALES["major"], SCALES["minor"]  # minor: natural (aeolian)
MODES = {
    "major": MAJOR,
    "ionian": MAJOR,
    "minor": MINOR,
    "aeolian": MINOR,
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
# Tempo words -> quarter notes per minute (the model's grid is 16th notes, 4 per quarter). Longer
# phrases first: "very fast" before "fast".
TEMPO_WORDS = {
    "very slow": 50,
    "very slowly": 50,
    "very fast": 176,
    "very quick": 176,
    "grave": 40,
    "largo": 50,
    "lento": 56,
    "adagio": 66,
    "slow": 72,
    "slowly": 72,
    "andante": 90,
    "moderato": 108,
    "moderate": 108,
    "allegretto": 116,
    "brisk": 132,
    "up-tempo": 144,
    "uptempo": 144,
    "lively": 138,
    "allegro": 140,
    "fast": 152,
    "quick": 152,
    "vivace": 160,
    "presto": 184,
    "prestissimo": 200,
}
MAX_CHARS = 2000
NEGATIONS = ("not", "not too", "not very", "not so", "never")
NOT_A_TONIC = ("key", "keys", "mode", "modes", "scale", "scales", "tonality")  # "a minor key": the article a

_ACC = r"(?:\s*(?P<sym>[#♯♭])|(?P<b>b)(?![a-z])|[\s-]+(?P<word>sharp|flat)(?![a-z]))?"
_KEY = re.compile(
    r"(?<![\w#♯♭])(?P<letter>[a-g])" + _ACC + r"[\s-]*(?P<mode>" + "|".join(MODES) + r")(?![a-z])", re.IGNORECASE
)
_CHORD = re.compile(r"(?<![\w#♯♭])(?P<letter>[A-G])(?P<sym>[#♯b♭])?m(?![\w#♯♭])")
_BARE = re.compile(r"\b(?i:in|key of)\s+(?P<letter>[A-G])" + _ACC + r"(?![\w#♯♭])")
_NUMBER = (  # bounded: no quadratic scan; "1,200,000" whole, never its tail "200,000"
    r"(?<![\w.,])(?P<n>[-+]?(?:\d{1,3}(?:,\d{3})+(?![\d,])|\d{1,20}(?:[.,]\d{1,20})?)(?:e[-+]?\d{1,4})?)"
)
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:e[-+]?\d{1,4})?", re.IGNORECASE)
_TEMPO_NUMBER = re.compile(
    _NUMBER + r"\s*(?:bpm|qpm|b\.p\.m\.?|beats?\s+(?:per|a|an)\s+minute|quarter[\s-]?notes?\s+(?:per|a)\s+minute)"
    r"(?![a-z])"
    r"|(?:tempo(?:\s+of)?|♩\s*=)\s*" + _NUMBER.replace("?P<n>", "?P<m>") + r"(?!\s*[\w/])",  # not "up-tempo 2 bars"
    re.IGNORECASE,
)
_TEMPO_WORD = re.compile(r"\b(?P<w>" + "|".join(re.escape(w) for w in TEMPO_WORDS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Key:
    """A named key: tonic pitch class (C = 0), tonic as spelled (F#, Bb, D) and mode word."""

    tonic: int
    spelled: str
    mode: str

    @property
    def scale(self) -> frozenset[int]:
        """The pitch classes of the key's scale."""
        return frozenset((self.tonic + d) % 12 for d in MODES[self.mode])

    @property
    def name(self) -> str:
        return f"{self.spelled} {self.mode}"


@dataclass(frozen=True)
class Tempo:
    """A named tempo in quarter notes per minute, and the words that named it."""

    qpm: float
    said: str


@dataclass(frozen=True)
class Words:
    key: Key | None
    tempo: Tempo | None


def _key(m: re.Match, mode: str) -> Key:
    letter = m.group("letter").lower()
    acc = next((g for g in (m.group("sym"), m.groupdict().get("b"), m.groupdict().get("word")) if g), None)
    shift = ACCIDENTALS[acc.lower()] if acc else 0
    return Key((LETTERS[letter] + shift) % 12, letter.upper() + {1: "#", -1: "b", 0: ""}[shift], mode)


def normalize(text: str) -> str:
    """The part of a prompt that is read, in NFKC form: fullwidth letters and digits as ASCII ones."""
    return unicodedata.normalize("NFKC", text[:MAX_CHARS])


def _number(said: str) -> float:
    """A number as the prompt wrote it: commas between groups of three digits dropped, another comma a point."""
    text = said.replace(",", "") if _THOUSANDS.fullmatch(said) else said.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_key(text: str) -> Key | None:
    """The first key the prompt names (see the module's rules), or None."""
    text = normalize(text)
    found = []
    for m in _KEY.finditer(text):
        before, after = text[max(0, m.start() - 12) : m.start()].lower().split(), text[m.end() :][:20].lower().split()
        article = m.group("letter") == "a" and not any(m.group(g) for g in ("sym", "b", "word"))
        named = after[0].strip(".,;:!?") if after else ""
        if article and (not before or before[-1] not in ("in", "of") or named in NOT_A_TONIC):
            continue
        found.append((m.start(), _key(m, m.group("mode").lower())))
        break
    m = _CHORD.search(text)
    if m:
        found.append((m.start(), _key(m, "minor")))
    m = None if found else _BARE.search(text)  # "in G": only when no mode word names the key
    return min(found, key=lambda f: f[0])[1] if found else (_key(m, "major") if m else None)


def read_tempo(text: str) -> Tempo | None:
    """The tempo the prompt names: a number with a unit first, else the first tempo word; PromptError
    when a number is outside settings.MIN_QPM..MAX_QPM."""
    text = normalize(text)
    m = _TEMPO_NUMBER.search(text)
    if m:
        said = " ".join(m.group(0).split())
        qpm = _number(m.group("n") or m.group("m"))
        if not (math.isfinite(qpm) and settings.MIN_QPM <= qpm <= settings.MAX_QPM):
            raise PromptError(
                f"the prompt asks for {said!r}; muse plays {settings.MIN_QPM:g} to {settings.MAX_QPM:g} beats "
                "(quarter notes) per minute: give a tempo in that range, or --qpm"
            )
        return Tempo(qpm, said)
    for m in _TEMPO_WORD.finditer(text):
        before = " ".join(text[max(0, m.start() - 16) : m.start()].lower().split()[-2:])
        if any(before == n or before.endswith(" " + n) for n in NEGATIONS):
            continue
        word = " ".join(m.group("w").lower().split())
        return Tempo(float(TEMPO_WORDS[word]), word)
    return None


def read_words(text: str) -> Words:
    """The key and tempo a prompt names (either may be None)."""
    return Words(read_key(text), read_tempo(text))
