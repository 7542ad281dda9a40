"""muse eval --structure (muse_cli.structure): statistics of hand-made pieces with known answers, originality,
the classifier, and the command end to end on a small corpus file."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import run_muse

from muse_cli import structure as S
from muse_cli.features import diatonic_fit, estimated_key, scale_share

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def run(pitches: list[int], start: int, step: int) -> list[tuple]:
    """Notes of ``step`` steps each, one after another from ``start``."""
    return [(p, start + i * step, start + (i + 1) * step) for i, p in enumerate(pitches)]


def section(kind: str, k: int) -> list[tuple]:
    """2-bar section number ``k`` (0-7): "scale" is C major in quarters; "E", "G", "F", "D", "C" that note repeated
    (in halves or wholes, so that no two differ by pitch class and onsets alike)."""
    start = k * 32
    if kind == "scale":
        return run(C_MAJOR, start, 4)
    pitch = {"C": 60, "D": 62, "E": 64, "F": 65, "G": 67}[kind]
    return run([pitch] * (2 if kind in "FD" else 4), start, 16 if kind in "FD" else 8)


def piece(kinds: str) -> np.ndarray:
    names = {"A": "scale", "B": "E", "C": "G", "D": "F", "E": "D", "F": "C"}
    return S.piece_events([n for k, c in enumerate(kinds) for n in section(names[c], k)])


def row(events: np.ndarray) -> dict:
    return dict(zip(S.FEATURES, S.features(events[None])[0]))


def test_the_key_and_scale_of_c_major():
    notes = run(C_MAJOR, 0, 4)
    assert estimated_key(notes) == (0, "major")
    assert diatonic_fit(notes) == (1.0, frozenset({0}))
    assert scale_share(notes, 7) == pytest.approx(28 / 32)  # G major has F#: the F's 4 steps are out
    assert diatonic_fit(run([60, 67], 0, 8)) == (1.0, frozenset({0, 3, 5, 7, 8, 10}))  # six major scales hold C and G


def test_a_tune_that_repeats_its_first_section_exactly():
    r = row(piece("ABACADEF"))  # A comes back twice: 2 of the 7 later sections, exactly and closely
    assert r["exact_returns"] == pytest.approx(2 / 7) and r["close_returns"] == pytest.approx(2 / 7)
    assert r["return_similarity"] < 1.0
    assert r["in_scale"] == 1.0 and r["ends_on_tonic"] == 1.0  # all in C major, the last note a C
    assert r["notes_per_bar"] == pytest.approx((3 * 8 + 3 * 4 + 2 * 2) / 16)
    assert r["pitch_range"] == 12 and r["scale_changes"] == 0.0  # every quarter fits C major
    fresh = row(piece("ABCDEFBC"))  # no section returns the opening, but B and C come back
    assert fresh["exact_returns"] == pytest.approx(2 / 7) and fresh["close_returns"] == pytest.approx(2 / 7)
    assert row(piece("ABCDEFDE"))["exact_returns"] == pytest.approx(2 / 7)
    assert row(piece("ABCDEFAB"))["ends_on_tonic"] == 0.0  # ends on E in C major


def test_sections_read_as_windows_and_silence_never_returns():
    held = S.piece_events([(60, 0, 32), (62, 40, 64)] + [(60, 64 + 32 * k, 64 + 32 * k + 8) for k in range(6)])
    assert held[32] == 1 and S.sections(held)[1, 0] == 0  # a note-off on a section's first step: a rest there
    r = row(S.piece_events(run(C_MAJOR, 0, 4)))  # bars 1-2, then 14 silent bars
    assert r["close_returns"] == 0.0 and r["exact_returns"] == 0.0 and r["return_similarity"] == 0.0


def test_a_piece_that_drifts_key():
    f_sharp = [p + 6 for p in C_MAJOR]
    first = [n for k in range(4) for n in run(C_MAJOR, k * 32, 4)]
    notes = first + [n for k in range(4, 8) for n in run(f_sharp, k * 32, 4)]
    r = row(S.piece_events(notes))
    assert r["key_change"] == 1.0  # C major, then F# major
    assert r["scale_changes"] == pytest.approx(1 / 3)  # one of the three 4-bar borders
    assert r["in_scale"] == pytest.approx(diatonic_fit(notes)[0]) and r["in_scale"] < 0.75
    steady = row(S.piece_events(first + [(p, s + 128, e + 128) for p, s, e in first]))
    assert steady["key_change"] == 0.0 and steady["scale_changes"] == 0.0 and steady["in_scale"] == 1.0
    assert steady["exact_returns"] == 1.0  # every later section is the first one again


def test_originality_is_up_to_transposition():
    tune = S.piece_events([n for k in range(8) for n in section("scale" if k % 2 else "E", k)])
    moved = S.piece_events([(p + 5, s, e) for k in range(8) for p, s, e in section("scale" if k % 2 else "E", k)])
    known = set(*S.section_keys(tune[None]))
    assert len(known) == 2  # the scale and the repeated E
    assert S.originality(moved[None], known) == {"sections": 1.0, "copied": 1.0}
    other = S.piece_events([n for k in range(8) for n in section("D", k)])  # two whole notes a section
    half = S.piece_events([n for k in range(8) for n in section("scale" if k < 4 else "D", k)])
    assert S.originality(np.stack([other, half]), known) == {"sections": 0.25, "copied": 0.0}
    lone = S.piece_events([(60, 0, 32)])  # one held note: too little to call a copy
    assert S.section_keys(lone[None]) == [[]]


def test_the_classifier_tells_different_sets_apart_and_not_one_set_from_itself():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(0, 1, (60, 5)), rng.normal(0, 1, (60, 5)), rng.normal(1.5, 1, (60, 5))
    assert S.classifier_auc(a, c) > 0.95
    assert 0.35 < S.classifier_auc(a, b) < 0.65
    assert np.isnan(S.classifier_auc(a[:1], c[:1]))


# -- a small corpus file, and the command end to end ------------------------------------------------------------
def write_corpus(tunes: list[dict], path) -> None:
    from muse_cli.training.corpus import save_tunes

    save_tunes(tunes, path)


@pytest.fixture
def corpus_file(tmp_path, data_dir):
    """24 tunes of 16 bars (4/4): folk_16bar.mid transposed and with one section changed; 12 held out."""
    import muse_cli

    melody = muse_cli.read_melody((data_dir / "folk_16bar.mid").read_bytes(), "folk_16bar.mid")
    tunes = []
    for k in range(24):
        notes = [(p + k % 7 - 3 + (5 if 32 * (k % 8) <= s < 32 * (k % 8 + 1) else 0), s, e) for p, s, e in melody.notes]
        quarters = [(p, s / 4, e / 4) for p, s, e in notes]
        split = "train" if k < 12 else ("test" if k % 2 else "valid")
        tunes.append({"id": f"t{k}", "meter": "4/4", "meters": ["4/4"], "bar_quarters": 4.0, "notes": quarters})
        tunes[-1]["split"] = split
    path = tmp_path / "tunes.corpus"
    write_corpus(tunes, path)
    return path


def test_eval_structure_end_to_end(corpus_file):
    p = run_muse("eval", "--structure", "--pieces", "8", "--tunes", corpus_file)
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode()
    assert "| | real tunes (8) | walk (8) | walk AABA (8) | conductor (8) | conductor AABA (8) |" in out
    for k in S.FEATURES:
        assert f"| {S.ROWS[k][1]} |" in out
    assert "classifier AUC against the real tunes, structure features alone" in out and "ending on the input" in out
    j = run_muse("eval", "--structure", "--pieces", "8", "--tunes", corpus_file, "--json", "--seed", "3")
    assert j.returncode == 0, j.stderr.decode()
    result = json.loads(j.stdout)
    kinds = ("walk", "walk AABA", "conductor", "conductor AABA")
    assert result["pieces"] == {"real tunes": 8, **{k: 8 for k in kinds}} and result["seed"] == 3
    real = result["summary"]["real tunes"]
    assert real["in_scale"] > 0.9 and real["pitch_range"] >= 12
    assert result["originality"]["real tunes"]["sections"] > 0.5  # the held-out tunes: training tunes, transposed
    assert result["originality"]["walk"]["copied"] == 0.0
    assert set(result["auc"]) == set(kinds) and all(0 <= v <= 1 for a in result["auc"].values() for v in a.values())
    assert result["continuation"]["tunes"] == 8


def test_a_generator_is_one_entry_and_the_real_tunes_against_themselves_score_alike(corpus_file):
    from muse_cli.model import Generated, load_model

    def copies(model, n, seed):  # the held-out tunes themselves, as a generator would return them
        tunes = S.held_out(S._corpus(corpus_file, None), n, seed)
        return [Generated(f"copy{i}", notes, 120.0, 32.0, {}) for i, notes in enumerate(tunes)]

    result = S.evaluate_structure(load_model(None), pieces=8, seed=0, tunes=corpus_file, generators={"copy": copies})
    assert result["summary"]["copy"] == result["summary"]["real tunes"]
    assert result["originality"]["copy"] == result["originality"]["real tunes"]
    # the same rows under both labels: no better than chance (cross-validation on twins even scores below 0.5)
    assert result["auc"]["copy"]["all"] <= 0.6 and result["auc"]["copy"]["structure"] <= 0.6


def test_eval_structure_errors_are_one_line(tmp_path, corpus_file, data_dir):
    bad = run_muse("eval", "--structure", "--tunes", data_dir / "folk_b.mid")
    err = bad.stderr.decode()
    assert bad.returncode == 2 and err.count("\n") == 1 and "folk_b.mid" in err and "corpus" in err, err
    missing = run_muse("eval", "--structure", "--tunes", tmp_path / "nosuch.corpus")
    assert missing.returncode == 2 and "nosuch.corpus: no such file" in missing.stderr.decode()
    assert not (tmp_path / "nosuch.corpus").exists()
    both = run_muse("eval", "--structure", "--prompts")
    assert both.returncode == 2 and "--structure and --prompts" in both.stderr.decode()
    train_only = tmp_path / "train.corpus"
    tunes = S._corpus(corpus_file, None)
    write_corpus([{**t, "split": "train"} for t in tunes], train_only)
    none = run_muse("eval", "--structure", "--tunes", train_only)
    assert none.returncode == 2 and "0 held-out duple tunes" in none.stderr.decode(), none.stderr.decode()


def test_sampling_never_imports_the_evaluation(tmp_path):
    code = (
        "import sys; from muse_cli.cli import main; sys.argv=['muse','sample','--seconds','32','-o',sys.argv[1]];\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print([m for m in ('muse_cli.structure','sklearn','tensorflow') if m in sys.modules])"
    )
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "o")], capture_output=True, text=True)
    assert p.stdout.strip().splitlines()[-1] == "[]", p.stderr
    assert list((tmp_path / "o").glob("*.mid"))
