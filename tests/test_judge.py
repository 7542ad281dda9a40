"""muse_cli.judge: the independent measures of prompt adherence (issue 19) share no code with what the head
trains on or the reranker selects on, and measure what they say on real MIDI bytes."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from test_prompt import synthetic_tunes

from muse_cli import judge
from muse_cli.midi import to_midi_bytes

# What the captions are labelled with and the reranker selects on: the judge must not call into them.
NOT_INDEPENDENT = ("muse_cli.features", "muse_cli.prompt", "muse_cli.training", "muse_cli.adherence")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add(node.module or "")
    return out


def test_the_judge_imports_nothing_the_reranker_or_the_captions_use():
    imported = _imports(Path(judge.__file__))
    assert not {m for m in imported if m.startswith(NOT_INDEPENDENT)}, imported
    assert {m for m in imported if m.startswith("muse_cli")} <= {"muse_cli.midi"}  # only the one MIDI writer


def test_notes_come_back_from_the_written_file():
    notes = [(60, 0, 4), (64, 4, 6), (67, 8, 16), (72, 16, 32)]  # 16th-note steps
    back = judge.read_midi_notes(to_midi_bytes(notes, qpm=97.0))
    assert back == [(60, 0.0, 1.0), (64, 1.0, 1.5), (67, 2.0, 4.0), (72, 4.0, 8.0)]


def test_temperley_finds_keys_and_modes_from_pitch_sets():
    c_major = [(p, i, i + 1) for i, p in enumerate((60, 62, 64, 65, 67, 69, 71, 72))]
    a_harmonic_minor = [(p, i, i + 1) for i, p in enumerate((57, 59, 60, 62, 64, 65, 68, 69))]
    assert judge.temperley_key(c_major) == (0, "major")
    assert judge.temperley_key(a_harmonic_minor) == (9, "minor")
    assert judge.measure_notes(c_major)["mode"] > 0 > judge.measure_notes(a_harmonic_minor)["mode"]


def test_hand_measures_order_melodies_the_way_their_names_say():
    rising = [(60 + 2 * i, i, i + 1) for i in range(8)]
    falling = [(74 - 2 * i, i, i + 1) for i in range(8)]
    leaping = [(60 + (12 if i % 2 else 0), i, i + 1) for i in range(8)]
    sparse = [(60, 0, 4), (62, 4, 8)]
    m = {name: judge.measure_notes(n) for name, n in locals().items()}
    assert m["rising"]["contour"] > 0 > m["falling"]["contour"]
    assert m["rising"]["motion"] == -2.0 and m["leaping"]["motion"] == -12.0
    assert m["rising"]["density"] == 1.0 and m["sparse"]["density"] == 0.25
    assert m["leaping"]["register"] == pytest.approx(66.0)


def test_written_windows_split_a_melody_into_two_bar_windows():
    from muse_cli.encoding import FIRST_NOTE, MIN_PITCH

    events = np.full(64, 1)  # 4 bars, all held (1 = no event)
    events[[0, 32, 40]] = np.array([60, 72, 74]) - MIN_PITCH + FIRST_NOTE
    wins = judge.written_windows(events)
    assert [[(p, s) for p, s, _ in w] for w in wins] == [[(60, 0.0)], [(72, 0.0), (74, 2.0)]]


def test_learned_judges_train_on_valid_tunes_and_score_test_tunes():
    from muse_cli.adherence import PAIRS, train_judges

    judges = train_judges(synthetic_tunes(), PAIRS).by_pair
    assert set(judges) == {"mode", "style"}
    style = judges["style"]
    assert style.train_windows > 0 and style.test_windows > 0 and style.test_accuracy == 1.0
