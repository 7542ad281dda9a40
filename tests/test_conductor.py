"""The conductor (muse_cli.conductor) and its recipes (muse_cli.longform), on the embedded model and its file."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from conftest import DATA

from muse_cli import conductor as cond
from muse_cli import model as m
from muse_cli.encoding import FIRST_NOTE, MIN_PITCH, NUM_CLASSES, STEPS_PER_BAR, WINDOW_STEPS
from muse_cli.errors import CheckpointError
from muse_cli.form import sections
from muse_cli.longform import bars_for, continue_long, sample_long
from muse_cli.midi import Melody, read_melody


@pytest.fixture(scope="module")
def model():
    return m.load_model(None)


@pytest.fixture(scope="module")
def conductor(model):
    return cond.load(model)


@pytest.fixture(scope="module")
def tune():
    return read_melody((DATA / "folk_16bar.mid").read_bytes(), "folk_16bar.mid")


# -- determinism -----------------------------------------------------------------------------------
def test_same_seed_same_latents_and_bytes(model, conductor):
    a, plan_a = cond.conduct(conductor, 7, 2, 8)
    b, plan_b = cond.conduct(conductor, 7, 2, 8)
    c, _ = cond.conduct(conductor, 7, 3, 8)
    assert a.shape == (8, model.z_size) and np.array_equal(a, b) and plan_a == plan_b
    assert not np.array_equal(a, c)
    one = sample_long(model, [(7, 2, 32.0)])[0]
    both = sample_long(model, [(7, 1, 32.0), (7, 2, 32.0)])
    assert one.midi() == both[1].midi()  # a piece depends on its own seed and index, not on the batch
    assert one.name == "sample_s7_003" and one.provenance["conductor"] is True


def test_seconds_round_to_whole_bars_and_pieces_end_on_a_bar_line(model):
    assert [bars_for(s, 120.0) for s in (None, 1.0, 30.9, 31.0, 32.0, 32.9, 33.0)] == [2, 2, 15, 16, 16, 16, 17]
    for g in sample_long(model, [(4, 0, 31.0), (4, 1, 30.0)]):
        bars = round(g.seconds / 2.0)
        assert g.seconds in (32.0, 30.0) and max(e for _, _, e in g.notes) <= bars * STEPS_PER_BAR


# -- the plan: learned returns and form constraints ------------------------------------------------
def test_the_conductor_returns_on_its_own(conductor):
    kinds = [w["kind"] for i in range(40) for w in cond.conduct(conductor, 1, i, 8)[1]["windows"]]
    share = np.mean([k != "new" for k in kinds])
    assert 0.05 < share < 0.6  # learned from real tunes, which return to about a quarter of their windows


def test_a_repeated_letter_returns_to_its_first_section(model, conductor):
    form = sections("AABA", 8)  # A: windows 0-1, A: 2-3, B: 4-5, A: 6-7
    z, plan = cond.conduct(conductor, 5, 0, 8, sections=form)
    spread = np.median([np.linalg.norm(z[i] - z[j]) for i in (0, 1, 4, 5) for j in (0, 1, 4, 5) if i < j])
    for k, first in ((2, 0), (3, 1), (6, 0), (7, 1)):
        step = plan["windows"][k]
        assert step["source"] == first and step["kind"] in ("exact", "varied")
        if step["kind"] == "exact":
            assert np.array_equal(z[k], z[first])
        else:
            assert np.linalg.norm(z[k] - z[first]) < 0.6 * spread  # the same material, a little varied
    for k in (4, 5):  # a new letter never returns to an earlier one
        assert plan["windows"][k]["kind"] == "new" or plan["windows"][k]["source"] >= 4
    pieces = sample_long(model, [(5, i, 32.0) for i in range(6)], form="AABA")
    exact = 0
    for i, g in enumerate(pieces):
        assert g.provenance["form"] == "AABA"
        steps = cond.conduct(conductor, 5, i, 8, sections=form)[1]["windows"]
        for k, w in enumerate(steps[:7]):  # the last window is the ending's choice
            if w["kind"] == "exact":  # its notes come back note for note (pitch and onset)
                exact += 1
                at = [[(p, s % WINDOW_STEPS) for p, s, _ in g.notes if s // WINDOW_STEPS == j] for j in range(8)]
                assert at[k] == at[w["source"]]
    assert exact >= 1


# -- continue ------------------------------------------------------------------------------------
def test_continuation_keeps_the_input_and_conditions_on_all_its_windows(model, conductor, tune):
    mel = Melody("tune.mid", list(tune.notes[:40]), tune.notes[39][2], 100.0)
    out = continue_long(model, mel, seconds=16 * 2.4, n=2, seed=3)
    join = -(-mel.total_steps // STEPS_PER_BAR) * STEPS_PER_BAR
    for g in out:
        assert g.qpm == 100.0 and g.notes[: len(mel.notes)] == mel.notes
        assert all(s >= join for _, s, _ in g.notes[len(mel.notes) :])
        assert abs(g.seconds - (join / 16 * 2.4 + 16 * 2.4)) < 1e-9
    ctx = np.random.default_rng(0).standard_normal((4, model.z_size))
    moved = ctx.copy()
    moved[0] += 1.0  # only the FIRST input window changes
    a, _ = cond.conduct(conductor, 3, 0, 4, context_latents=ctx)
    b, _ = cond.conduct(conductor, 3, 0, 4, context_latents=moved)
    assert not np.allclose(a, b)


def test_continuation_stays_in_the_inputs_key(model, tune):
    from muse_cli.prompt.tonality import estimated_key
    from muse_cli.prompt.words import Key

    mel = Melody("tune.mid", list(tune.notes), tune.total_steps, tune.qpm)
    tonic, mode = estimated_key(mel.notes)
    scale = Key(tonic, "", mode).scale
    own = {p % 12 for p, _, _ in mel.notes}  # the input's accidentals may come back with its material
    for g in continue_long(model, mel, seconds=16.0, n=3, seed=1):
        new = g.notes[len(mel.notes) :]
        assert new and all(p % 12 in scale or p % 12 in own for p, _, _ in new)
        assert sum(p % 12 in scale for p, _, _ in new) >= 0.9 * len(new)


# -- the scale mask ----------------------------------------------------------------------------------
def test_the_class_mask_limits_sampling_and_all_allowed_changes_nothing(model):
    z = np.random.default_rng(1).standard_normal((16, model.z_size)).astype(np.float32)
    seeds = [(1, i) for i in range(16)]
    plain = model.decode_events(z, 1.0, seeds)
    assert np.array_equal(plain, model.decode_events(z, 1.0, seeds, allowed=np.ones(NUM_CLASSES, bool)))
    masked = model.decode_events(z, 1.0, seeds, allowed=cond.scale_classes())
    pcs = (masked[masked >= FIRST_NOTE] - FIRST_NOTE + MIN_PITCH) % 12
    assert len(pcs) and set(pcs.tolist()) <= set(cond.SCALE)
    assert not set(((plain[plain >= FIRST_NOTE] - FIRST_NOTE + MIN_PITCH) % 12).tolist()) <= set(cond.SCALE)


# -- the shipped file ----------------------------------------------------------------------------------
def _rewrite(src, dst, **meta_changes):
    with np.load(src) as data:
        arrays = {k: data[k] for k in data.files if k != "meta"}
        meta = json.loads(str(data["meta"]))
    meta.update(meta_changes)
    buf = io.BytesIO()
    np.savez(buf, **arrays, meta=np.array(json.dumps(meta)))
    dst.write_bytes(buf.getvalue())


def test_a_file_for_another_checkpoint_or_a_malformed_one_is_refused(model, tmp_path):
    shipped = cond.path_for(model.checkpoint)
    other = tmp_path / "other.npz"
    _rewrite(shipped, other, checkpoint_sha256="0" * 64)
    with pytest.raises(CheckpointError, match="made for another checkpoint") as err:
        cond.load(model, other)
    assert "\n" not in str(err.value) and "muse_cli.training.conductor" in str(err.value)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(CheckpointError, match="not a readable conductor file") as err:
        cond.load(model, garbage)
    assert "\n" not in str(err.value)
    wrong = tmp_path / "wrong.npz"
    _rewrite(shipped, wrong, format=99)
    with pytest.raises(CheckpointError, match="does not fit"):
        cond.load(model, wrong)
    with pytest.raises(CheckpointError, match="has no conductor"):
        cond.load(model, tmp_path / "missing.npz")
    copy = tmp_path / "copy.npz"
    shutil.copy(shipped, copy)
    assert cond.load(model, copy).z_size == model.z_size


def test_pieces_end_with_a_cadence_on_their_tonic(model):
    from muse_cli.longform import NAMES

    pieces = sample_long(model, [(2, i, 32.0) for i in range(8)])
    on_tonic = [g.notes[-1][0] % 12 == NAMES.index(g.provenance["key"].split()[0]) for g in pieces]
    assert sum(on_tonic) >= 6
    z = np.random.default_rng(3).standard_normal((8, model.z_size)).astype(np.float32)
    mask = np.repeat(cond.cadence_classes(7, True, end=32)[None], 8, axis=0)  # [rows, 32, 90]: per row and step
    ends = model.decode_events(z, 1.0, [(3, i) for i in range(8)], allowed=mask)
    last = ends[:, 24:]
    assert set(((last[last >= FIRST_NOTE] - FIRST_NOTE + MIN_PITCH) % 12).tolist()) <= {7}  # only G in the last beats
    plain = sample_long(model, [(2, 0, 32.0)], cadence_end=False)[0]
    assert plain.provenance["cadence"] is False and plain.notes[:8] == pieces[0].notes[:8]


def test_both_engines_make_the_same_conducted_pieces(model):
    """The scale, join and cadence masks ride on the sampling noise, so the reference engine gives the same bytes."""
    reference = m.load_model(None, batch_size=64, engine="magenta")
    draws = [(6, i, 16.0) for i in range(3)]
    assert [g.midi() for g in sample_long(model, draws)] == [g.midi() for g in sample_long(reference, draws)]
    mel = Melody("tune.mid", [(60, 0, 4), (62, 4, 8), (64, 8, 16), (65, 16, 24), (67, 24, 32)], 32, 90.0)
    assert [g.midi() for g in continue_long(model, mel, 8.0, n=2, seed=2)] == [
        g.midi() for g in continue_long(reference, mel, 8.0, n=2, seed=2)
    ]
