"""muse continue and --form: the recipes (muse_cli.form), the commands, and batch jobs that make the CLI's bytes."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import DATA, run_muse

from muse_cli import model as m
from muse_cli import paths
from muse_cli.encoding import WINDOW_STEPS
from muse_cli.errors import UsageError
from muse_cli.features import onset_jaccard, pitch_class_cosine
from muse_cli.form import (
    FORM_AMOUNT,
    check_form,
    continuation_path,
    form_letters,
    form_path,
    sections,
)
from muse_cli.midi import Melody, events_to_notes, notes_to_events, read_melody, read_provenance
from muse_cli.model import continue_melody


@pytest.fixture(scope="module")
def model():
    return m.load_model(None)


@pytest.fixture(scope="module")
def tune():
    return read_melody((DATA / "folk_16bar.mid").read_bytes(), "folk_16bar.mid")


def _end_seconds(data: bytes) -> float:
    import pretty_midi

    return pretty_midi.PrettyMIDI(io.BytesIO(data)).get_end_time()


# -- continue -------------------------------------------------------------------------------------
def test_continuation_is_the_input_then_seconds_of_new_bars(model, tune):
    items = continue_melody(model, tune, 16, n=2, seed=3)
    assert [g.name for g in items] == ["folk_16bar.cont_s3_001", "folk_16bar.cont_s3_002"]
    join = 256  # 16 bars: already on a bar line
    for g in items:
        assert g.notes[: len(tune.notes)] == tune.notes  # the input exactly, as written
        assert all(s >= join for _, s, _ in g.notes[len(tune.notes) :]) and len(g.notes) > len(tune.notes)
        assert g.seconds == pytest.approx(32.0 + 16.0)
        data = g.midi()
        assert _end_seconds(data) == pytest.approx(48.0)
        assert read_melody(data, "out").notes[: len(tune.notes)] == tune.notes  # and so in the file
        assert read_provenance(data)["mode"] == "continue"
    assert items[0].notes != items[1].notes
    again = continue_melody(model, tune, 16, n=1, seed=3)  # seeded, and independent of -n
    assert again[0].midi() == items[0].midi()
    (only,) = continue_melody(model, tune, 16, n=1, seed=3, keep=True)
    assert only.seconds == 16.0 and _end_seconds(only.midi()) == pytest.approx(16.0)
    assert only.notes == [(p, s - join, e - join) for p, s, e in items[0].notes[len(tune.notes) :]]


def test_input_is_padded_to_the_next_bar_line(model):
    """A melody of 2.5 bars: the new bars start at bar 4 (step 48), and the file is 3 bars + seconds long."""
    melody = Melody("half.mid", [(60, 0, 8), (62, 8, 24), (64, 24, 40)], 40, 120.0)
    (g,) = continue_melody(model, melody, 8, seed=1)
    assert g.notes[:3] == melody.notes and all(s >= 48 for _, s, _ in g.notes[3:])
    assert g.seconds == pytest.approx(3 * 2.0 + 8.0)


def test_continuation_walks_from_the_last_windows_mean(model, tune):
    """The walk of latent_path(seed, index, n + 1) with its start moved to mu: each step keeps its innovation."""
    mu = np.random.default_rng(0).standard_normal(model.z_size).astype(np.float32)
    path = continuation_path(mu, 7, 0, 4)
    base = paths.latent_path(7, 0, 5, model.z_size)
    rho = paths.LONGFORM_RHO
    assert path.shape == (4, model.z_size)
    np.testing.assert_allclose(path[0] - rho * mu, base[1] - rho * base[0], atol=1e-5)
    np.testing.assert_allclose(path[1:] - rho * path[:-1], base[2:] - rho * base[1:-1], atol=1e-5)


# -- form -----------------------------------------------------------------------------------------
def test_form_letters_and_lengths_are_checked():
    assert form_letters("aaba") == "AABA"
    for bad in ("", "A1", "A B", "ÄB", "A" * 33):
        with pytest.raises(UsageError, match="--form"):
            form_letters(bad)
    assert check_form("AABA", 16, 120) == "AABA" and check_form(None, None, 120) is None
    with pytest.raises(UsageError, match="needs 4 2-bar windows .* give --seconds 16 or more"):
        check_form("AABA", 4, 120)
    with pytest.raises(UsageError, match="the default length"):
        check_form("AB", None, 120)
    assert sections("ABA", 4) == [("A", 0, 1), ("B", 1, 1), ("A", 2, 2)]  # the last takes the leftover


def test_returning_letters_reuse_their_latents_and_new_letters_move_away():
    path = paths.latent_path(1, 0, 8, 64)
    shaped = form_path(path, "AABA", 1, 0)
    np.testing.assert_array_equal(shaped[:2], path[:2])  # the first letter keeps the walk

    def cos(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    for k in (0, 1):
        assert cos(shaped[k], shaped[2 + k]) > 0.95 and cos(shaped[k], shaped[6 + k]) > 0.95  # A' and A''
        assert abs(cos(shaped[k], shaped[4 + k])) < 0.5  # B: a walk of its own
        want = paths.slerp(shaped[k], np.random.default_rng([1, 0, 5, 3 + k]).standard_normal(64), FORM_AMOUNT)
        np.testing.assert_allclose(shaped[2 + k], want, atol=1e-6)


def _sections(notes, form, windows):
    return [
        events_to_notes(notes_to_events(notes, s * WINDOW_STEPS, n * WINDOW_STEPS))
        for _, s, n in sections(form, windows)
    ]


@pytest.mark.parametrize(
    "long, margin", [("walk", {"pc": 0.2, "onsets": 0.2}), ("conductor", {"pc": 0.1, "onsets": 0.2})]
)
def test_aaba_pieces_repeat_a_and_contrast_b(model, long, margin):
    """A returns and B contrasts. The conductor keeps one key, so every section shares its scale: pitch
    classes tell A from B less (0.95 vs 0.78 measured) than onsets (0.91 vs 0.59); most A' return closely."""
    pieces = m.sample(model, n=16, seconds=32, seed=0, form="AABA", long=long)
    assert all(g.provenance["form"] == "AABA" and g.seconds == 32 for g in pieces)
    parts = [_sections(g.notes, "AABA", 8) for g in pieces]
    for measure, key in ((pitch_class_cosine, "pc"), (onset_jaccard, "onsets")):
        again = np.mean([measure(p[0], p[1]) for p in parts])
        other = np.mean([measure(p[0], p[2]) for p in parts])
        assert again > other + margin[key], (measure.__name__, again, other)
    if long == "conductor":

        def close(a, b):
            return pitch_class_cosine(a, b) >= 0.9 and onset_jaccard(a, b) >= 0.8

        assert np.mean([close(p[0], p[1]) for p in parts]) >= 0.5
        assert np.mean([close(p[0], p[2]) for p in parts]) <= 0.1


def test_form_a_is_the_plain_long_form(model, tune):
    plain = m.sample(model, n=2, seconds=16, seed=4)
    one = m.sample(model, n=2, seconds=16, seed=4, form="a")
    assert [g.notes for g in one] == [g.notes for g in plain] and one[0].provenance["form"] == "A"
    (a,), (b,) = continue_melody(model, tune, 8, seed=2, form="A"), continue_melody(model, tune, 8, seed=2)
    assert a.notes == b.notes


# -- the commands ---------------------------------------------------------------------------------
def test_continue_command_writes_the_tune_and_its_new_bars(tmp_path):
    src = tmp_path / "tune.mid"
    src.write_bytes((DATA / "folk_b.mid").read_bytes())  # 4 bars
    tune = read_melody(src.read_bytes(), "tune.mid")
    p = run_muse("continue", "tune.mid", "--seconds", 8, "--seed", 2, "-n", 2, "-o", "more/", cwd=tmp_path)
    assert p.returncode == 0, p.stderr.decode()
    made = sorted(f.name for f in (tmp_path / "more").iterdir())
    assert made == ["tune.cont_s2_001.mid", "tune.cont_s2_002.mid"]
    first = (tmp_path / "more" / made[0]).read_bytes()
    assert read_melody(first, "x").notes[: len(tune.notes)] == tune.notes
    assert _end_seconds(first) == pytest.approx(8.0 + 8.0)
    again = run_muse("continue", "tune.mid", "--seconds", 8, "--seed", 2, "-o", "-", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == first
    keep = run_muse("continue", "tune.mid", "-s", 8, "--seed", 2, "--keep", "-o", "-", cwd=tmp_path)
    new = read_melody(first, "x").notes[len(tune.notes) :]
    assert read_melody(keep.stdout, "k").notes == [(q, s - 64, e - 64) for q, s, e in new]
    assert _end_seconds(keep.stdout) == pytest.approx(8.0)
    shaped = run_muse("continue", "tune.mid", "-s", 16, "--form", "ABAB", "--seed", 2, "-o", "-", cwd=tmp_path)
    assert read_provenance(shaped.stdout)["form"] == "ABAB"


def test_form_and_keep_mistakes_are_usage_errors(tmp_path):
    (tmp_path / "tune.mid").write_bytes((DATA / "folk_b.mid").read_bytes())
    short = run_muse("sample", "--seconds", 4, "--form", "AABA", "-o", "x.mid", cwd=tmp_path)
    assert short.returncode == 2 and short.stderr.decode().strip().splitlines() == [
        "muse: error: --form AABA needs 4 2-bar windows (one per letter), but 4 seconds at 120 qpm make 1; "
        "give --seconds 16 or more"
    ]
    for args, words in (
        (["sample", "--form", "A" * 200], "has 200 letters; at most 32"),
        (["continue", "tune.mid", "--form", "A-B"], "must be letters A-Z"),
        (["continue", "tune.mid", "--keep", "3"], "unexpected extra argument (3)"),
        (["continue", "tune.mid", "--form", "ABC"], "--form ABC needs 3 2-bar windows"),
    ):
        p = run_muse(*args, cwd=tmp_path)
        assert p.returncode == 2 and words in p.stderr.decode() and "Traceback" not in p.stderr.decode(), args
    assert sorted(f.name for f in tmp_path.iterdir()) == ["tune.mid"]


def test_prompted_sample_takes_a_form(tmp_path):
    args = ["sample", "--prompt", "a busy reel", "--seconds", 16, "--seed", 1, "--candidates", 1, "-o", "-"]
    shaped = run_muse(*args, "--form", "AABA")
    assert shaped.returncode == 0, shaped.stderr.decode()
    prov = read_provenance(shaped.stdout)
    assert prov["form"] == "AABA" and prov["prompt"] == "a busy reel"
    plain, single = run_muse(*args), run_muse(*args, "--form", "A")
    assert read_melody(single.stdout, "a").notes == read_melody(plain.stdout, "b").notes
    assert read_melody(shaped.stdout, "a").notes != read_melody(plain.stdout, "b").notes


# -- batch ----------------------------------------------------------------------------------------
JOBS = [
    {"op": "vary", "midi": "tune.mid", "amount": 0.4, "seed": 5, "out": "out/vary.mid"},
    {"op": "continue", "midi": "tune.mid", "seconds": 8, "seed": 6, "out": "out/more.mid"},
    {"op": "continue", "midi": "tune.mid", "seconds": 16, "form": "abab", "keep": True, "seed": 7, "out": "out/k.mid"},
    {"op": "sample", "seconds": 16, "form": "AABA", "seed": 8, "out": "out/aaba.mid"},
]
CLI = [
    ["vary", "tune.mid", "-n", 1, "--amount", 0.4, "--seed", 5],
    ["continue", "tune.mid", "--seconds", 8, "--seed", 6],
    ["continue", "tune.mid", "--seconds", 16, "--form", "ABAB", "--keep", "--seed", 7],
    ["sample", "--seconds", 16, "--form", "AABA", "--seed", 8],
]


def test_batch_vary_continue_and_form_make_the_cli_bytes(tmp_path):
    (tmp_path / "tune.mid").write_bytes((DATA / "folk_b.mid").read_bytes())
    (tmp_path / "jobs.jsonl").write_text("\n".join(json.dumps(j) for j in JOBS) + "\n")
    r = run_muse("batch", "jobs.jsonl", "--workers", 1, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    for job, args in zip(JOBS, CLI):
        p = run_muse(*args, "-o", "-", cwd=tmp_path)
        assert p.returncode == 0, p.stderr.decode()
        assert (tmp_path / job["out"]).read_bytes() == p.stdout, job
    again = run_muse("batch", "jobs.jsonl", "--workers", 1, cwd=tmp_path)  # outputs verify: all skipped
    assert again.returncode == 0 and "4 skipped" in again.stderr.decode(), again.stderr.decode()
    changed = [{**j, "form": "ABAB"} if j["op"] == "sample" else j for j in JOBS]
    (tmp_path / "jobs.jsonl").write_text("\n".join(json.dumps(j) for j in changed) + "\n")
    other = run_muse("batch", "jobs.jsonl", "--workers", 1, cwd=tmp_path)  # an output of another form is refused
    assert other.returncode == 1 and "made with form 'AABA', not 'ABAB'" in other.stderr.decode(), other.stderr


@pytest.mark.parametrize(
    "line, message",
    [
        ({"op": "vary", "seed": 1, "out": "v.mid"}, "missing field 'midi'"),
        ({"op": "vary", "midi": "t.mid", "amount": 2, "seed": 1, "out": "v.mid"}, "'amount' must be a number from 0"),
        ({"op": "continue", "midi": "t.mid", "keep": "yes", "seed": 1, "out": "c.mid"}, "'keep' must be true or false"),
        ({"op": "continue", "midi": "t.mid", "form": "A1", "seed": 1, "out": "c.mid"}, "'form' must be letters A-Z"),
        ({"op": "sample", "form": "AABA", "seconds": 4, "seed": 1, "out": "s.mid"}, "'form' AABA needs 4 2-bar"),
        ({"op": "sample", "form": "A" * 40, "seconds": 600, "seed": 1, "out": "s.mid"}, "'form' has 40 letters"),
        ({"op": "vary", "midi": "t.mid", "form": "AB", "seed": 1, "out": "v.mid"}, "unknown field 'form'"),
    ],
)
def test_batch_checks_the_new_fields(tmp_path, line, message):
    from muse_cli.batch import JobFileError, parse_jobs

    with pytest.raises(JobFileError, match="line 1: " + message.replace("(", r"\(")):
        parse_jobs(json.dumps(line), "jobs.jsonl", tmp_path)
