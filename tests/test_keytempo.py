"""Prompts that name a key or a tempo get them (issue 13, item 6): the words parser, the transposition,
and end to end on the default checkpoint through `muse sample`, `muse decode` and a batch job.

Expectations are computed at run time from the written MIDI (the checkpoint and its prompt head may be
retrained): the share of note time in the named scale, the tempo, and the provenance's count of notes
outside the scale.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from muse_cli import settings
from muse_cli.cli import cli
from muse_cli.errors import PromptError
from muse_cli.midi import read_melody, read_provenance
from muse_cli.prompt.words import TEMPO_WORDS, read_key, read_tempo, read_words

G_MAJOR = {7, 9, 11, 0, 2, 4, 6}
E_MINOR = {4, 6, 7, 9, 11, 0, 2}


# -- the words ------------------------------------------------------------------------------------
KEYS = [
    ("a fast happy reel in D major", 2, "major", "D major"),
    ("a slow sad tune in A minor", 9, "minor", "A minor"),
    ("a march in Bb major", 10, "major", "Bb major"),
    ("a march in B♭ major", 10, "major", "Bb major"),
    ("in b flat major", 10, "major", "Bb major"),
    ("a lament in F sharp minor", 6, "minor", "F# minor"),
    ("a lament in F-sharp minor", 6, "minor", "F# minor"),
    ("a lament in F♯ minor", 6, "minor", "F# minor"),
    ("C# minor waltz", 1, "minor", "C# minor"),
    ("E♭ major", 3, "major", "Eb major"),
    ("a hornpipe in e minor", 4, "minor", "E minor"),
    ("a tune in a minor", 9, "minor", "A minor"),
    ("an Am tune", 9, "minor", "A minor"),
    ("F#m", 6, "minor", "F# minor"),
    ("a reel in G", 7, "major", "G major"),
    ("in the key of D", 2, "major", "D major"),
    ("a reel in D dorian", 2, "dorian", "D dorian"),
    ("G mixolydian", 7, "mixolydian", "G mixolydian"),
    ("a reel in Ｄ major", 2, "major", "D major"),  # fullwidth, as an IME types it (NFKC)
    ("Ｆ♯ｍ", 6, "minor", "F# minor"),
]


@pytest.mark.parametrize("text, tonic, mode, name", KEYS, ids=[k[0] for k in KEYS])
def test_key_spellings(text, tonic, mode, name):
    key = read_key(text)
    assert (key.tonic, key.mode, key.name) == (tonic, mode, name)


@pytest.mark.parametrize(
    "text",
    [
        "a slow German love song in a minor key",  # the article a, as the training captions say it
        "a minor tune",
        "a major hit",
        "I am here",
        "a busy Irish reel",
        "the best minor melody",
        "",
    ],
)
def test_words_that_name_no_key(text):
    assert read_key(text) is None


TEMPI = [
    ("a slow air", TEMPO_WORDS["slow"], "slow"),
    ("a fast happy reel in D major", TEMPO_WORDS["fast"], "fast"),
    ("very fast", TEMPO_WORDS["very fast"], "very fast"),
    ("Adagio", TEMPO_WORDS["adagio"], "adagio"),
    ("a reel at 140 bpm", 140.0, "140 bpm"),
    ("90 qpm", 90.0, "90 qpm"),
    ("at 100 beats per minute", 100.0, "100 beats per minute"),
    ("a slow air at 96.5 BPM", 96.5, "96.5 BPM"),  # a number wins over a word
    ("tempo 72", 72.0, "tempo 72"),
    ("♩ = 120", 120.0, "♩ = 120"),
    ("an up-tempo 2 bar tune", TEMPO_WORDS["up-tempo"], "up-tempo"),  # "tempo 2" then a word: not a number
    ("a slow, 90 bpm air", 90.0, "90 bpm"),
    ("at 20 bpm", settings.MIN_QPM, "20 bpm"),
    ("at 400 bpm", settings.MAX_QPM, "400 bpm"),
    ("a reel at １２０ bpm", 120.0, "120 bpm"),  # fullwidth digits
    ("a reel at 92,5 bpm", 92.5, "92,5 bpm"),  # a decimal comma
    ("2,3 bars at 90 bpm", 90.0, "90 bpm"),
]


@pytest.mark.parametrize("text, qpm, said", TEMPI, ids=[t[0] for t in TEMPI])
def test_tempo_words_and_numbers(text, qpm, said):
    tempo = read_tempo(text)
    assert (tempo.qpm, tempo.said) == (qpm, said)


@pytest.mark.parametrize("text", ["not too fast", "a gentle air", "breakfast tune", "a reel in D major"])
def test_words_that_name_no_tempo(text):
    assert read_tempo(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "at 0 bpm",
        "9999 bpm",
        "-5 bpm",
        "at 19.9 bpm",
        "400.5 qpm",
        "1e9 bpm",
        "at 120,000 bpm",  # thousands: 120000, not 120
        "1,200,000 bpm",  # never its tail "200,000" nor "200"
        "tempo 1,000",
        "at ９９９９ bpm",
    ],
)
def test_a_tempo_out_of_range_is_a_one_line_prompt_error(text):
    with pytest.raises(PromptError) as err:
        read_words(text)
    msg = str(err.value)
    assert "\n" not in msg and "20 to 400" in msg and "--qpm" in msg


def test_huge_prompts_are_read_quickly():
    import time

    t0 = time.perf_counter()
    for text in ("1" * 1_000_000 + " bpm", "a minor " * 100_000, "in " * 300_000 + "D", "#" * 1_000_000):
        assert read_words(text).tempo is None
    assert time.perf_counter() - t0 < 1.0


# -- the transposition ----------------------------------------------------------------------------
def _events(pitches: list[int], length: int = 4) -> np.ndarray:
    from muse_cli.encoding import FIRST_NOTE, MIN_PITCH

    ev = np.zeros(len(pitches) * length, np.int64)
    ev[::length] = np.array(pitches) - MIN_PITCH + FIRST_NOTE
    return ev


def test_best_shift_moves_a_c_major_tune_to_d_major_and_stays_in_the_piano_range():
    from muse_cli.midi import events_to_notes
    from muse_cli.prompt.tonality import best_shift, in_scale, to_key, transpose

    key = read_key("D major")
    tune = _events([60, 62, 64, 65, 67, 65, 64, 62])
    assert best_shift(events_to_notes(tune), key) == (2, 1.0)
    moved, d = to_key(tune, key)
    assert d == 2 and in_scale(events_to_notes(moved), key) == 1.0
    high = _events([103, 105, 107, 108])  # +2 would leave the range: an octave down instead
    up, d = transpose(high, 2)
    assert d == -10 and max(p for p, _, _ in events_to_notes(up)) == 98


# -- end to end on the default checkpoint ---------------------------------------------------------
def _in_scale(notes_lists: list, scale: set) -> float:
    total = sum(e - s for notes in notes_lists for _, s, e in notes)
    return sum(e - s for notes in notes_lists for p, s, e in notes if p % 12 in scale) / total


def _tempo(data: bytes) -> float:
    import pretty_midi

    return float(pretty_midi.PrettyMIDI(io.BytesIO(data)).get_tempo_changes()[1][0])


def _invoke(args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_sample_keeps_the_named_key_and_tempo(tmp_path):
    r = _invoke(["sample", "--prompt", "a fast jig in G major", "-n", 4, "--seed", 5, "-o", tmp_path])
    assert r.exit_code == 0, r.output
    assert "prompt: key G major" in r.stderr and f"tempo {TEMPO_WORDS['fast']:g} qpm from 'fast'" in r.stderr
    files = sorted(tmp_path.glob("*.mid"))
    assert len(files) == 4
    melodies = [read_melody(f.read_bytes(), f.name).notes for f in files]
    assert _in_scale(melodies, G_MAJOR) >= 0.9
    for f, notes in zip(files, melodies):
        prov = read_provenance(f.read_bytes())
        assert _tempo(f.read_bytes()) == pytest.approx(TEMPO_WORDS["fast"], abs=0.01)
        assert (prov["key"], prov["tempo_words"], prov["qpm"]) == ("G major", "fast", TEMPO_WORDS["fast"])
        assert prov["out_of_key_notes"] == sum(p % 12 not in G_MAJOR for p, _, _ in notes)


def test_qpm_given_wins_over_the_prompts_tempo(tmp_path):
    r = _invoke(["sample", "--prompt", "a fast jig in G major", "--qpm", 100, "--seed", 5, "-o", tmp_path / "a.mid"])
    assert r.exit_code == 0, r.output
    data = (tmp_path / "a.mid").read_bytes()
    prov = read_provenance(data)
    assert _tempo(data) == pytest.approx(100.0, abs=0.01) and prov["qpm"] == 100.0
    assert "tempo_words" not in prov and prov["key"] == "G major"
    # --qpm 120, the default's value, given on purpose, still wins
    r = _invoke(["sample", "--prompt", "a slow air", "--qpm", 120, "--seed", 5, "-o", tmp_path / "b.mid"])
    assert r.exit_code == 0 and _tempo((tmp_path / "b.mid").read_bytes()) == pytest.approx(120.0, abs=0.01)


def test_decode_prompt_keeps_the_named_key_and_tempo(tmp_path):
    melodies = []
    for seed in range(4):
        out = tmp_path / f"d{seed}.mid"
        r = _invoke(["decode", "--prompt", "a slow lament in E minor", "--seed", seed, "-o", out])
        assert r.exit_code == 0, r.output
        data = out.read_bytes()
        melodies.append(read_melody(data, out.name).notes)
        prov = read_provenance(data)
        assert _tempo(data) == pytest.approx(TEMPO_WORDS["slow"], abs=0.01)
        assert (prov["key"], prov["tempo_words"]) == ("E minor", "slow")
    assert _in_scale(melodies, E_MINOR) >= 0.9


def test_prompt_without_key_or_tempo_words_is_as_before(tmp_path):
    r = _invoke(["sample", "--prompt", "a busy Irish reel", "--seed", 2, "-o", tmp_path / "a.mid"])
    assert r.exit_code == 0 and "prompt: key" not in r.stderr
    prov = read_provenance((tmp_path / "a.mid").read_bytes())
    assert prov["qpm"] == 120.0 and "key" not in prov and "tempo_words" not in prov


@pytest.mark.parametrize("extra", [{}, {"qpm": 90}], ids=["tempo from the words", "qpm in the job"])
def test_batch_prompt_job_writes_the_bytes_muse_sample_writes(tmp_path, extra):
    from muse_cli.batch.jobs import Options, parse_jobs
    from muse_cli.batch.worker import run_task

    text = "a fast happy reel in D major"
    job = {"op": "decode", "prompt": text, "seed": 3, "out": "b.mid", **extra}
    jobs = parse_jobs(json.dumps(job), "jobs.jsonl", tmp_path)
    (res,) = run_task(jobs, Options())
    assert res.status == "ok", res
    args = ["sample", "--prompt", text, "--seed", 3, "-o", tmp_path / "c.mid"]
    assert _invoke(args + (["--qpm", extra["qpm"]] if extra else [])).exit_code == 0
    assert (tmp_path / "b.mid").read_bytes() == (tmp_path / "c.mid").read_bytes()
    assert _tempo((tmp_path / "b.mid").read_bytes()) == pytest.approx(extra.get("qpm", TEMPO_WORDS["fast"]), abs=0.01)
    (again,) = run_task(jobs, Options())  # a rerun verifies the file (its provenance's qpm) and skips it
    assert again.status == "skipped", again


def test_batch_refuses_a_prompt_tempo_out_of_range_before_running(tmp_path):
    from muse_cli.batch.jobs import JobFileError, parse_jobs

    with pytest.raises(JobFileError) as err:
        parse_jobs(json.dumps({"op": "decode", "prompt": "a reel at 0 bpm", "seed": 1, "out": "a.mid"}), "j", tmp_path)
    assert "line 1: 'prompt': the prompt asks for '0 bpm'" in str(err.value)
