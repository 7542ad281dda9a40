"""muse vary: variations of a melody, window by window (library and command)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

from muse_cli import model as m
from muse_cli.errors import UsageError
from muse_cli.midi import read_melody


@pytest.fixture(scope="module")
def tune():
    return read_melody((DATA / "folk_16bar.mid").read_bytes(), "folk_16bar.mid")


def _onsets(notes):
    return {s for _, s, _ in notes}


def test_variations_keep_the_length_are_seeded_and_move_away_with_the_amount(tune):
    model = m.load_model(None)
    near = m.vary(model, tune, n=4, amount=0.1, seed=5)
    assert [g.name for g in near] == [f"folk_16bar.var_s5_{v:03d}" for v in (1, 2, 3, 4)]
    assert all(g.seconds == pytest.approx(32.0) for g in near)  # 16 bars at 120 qpm, like decode
    assert [g.midi() for g in near] == [g.midi() for g in m.vary(model, tune, n=4, amount=0.1, seed=5)]
    assert len({g.midi() for g in near}) == 4  # four different variations
    far = m.vary(model, tune, n=4, amount=0.9, seed=5)

    def similarity(gs):
        src = _onsets(tune.notes)
        return np.mean([len(src & _onsets(g.notes)) / len(src | _onsets(g.notes)) for g in gs])

    assert similarity(near) > similarity(far) + 0.15
    assert near[0].provenance["mode"] == "vary" and near[0].provenance["amount"] == 0.1


@pytest.mark.parametrize("amount", [-0.1, 1.5, float("nan")])
def test_amount_outside_0_1_is_refused(tune, amount):
    with pytest.raises(UsageError, match="--amount must be between 0"):
        m.vary(m.load_model(None), tune, amount=amount)


def test_vary_command_writes_seeded_variations(muse, tmp_path):
    tune = DATA / "folk_16bar.mid"
    p = muse("vary", tune, "-n", 3, "--amount", 0.5, "--seed", 2, "-o", tmp_path / "v", "--wav")
    assert p.returncode == 0, p.stderr.decode()
    made = sorted(f.name for f in (tmp_path / "v").iterdir())
    assert made == [f"folk_16bar.var_s2_{v:03d}.{ext}" for v in (1, 2, 3) for ext in ("mid", "wav")]
    again = muse("vary", tune, "-n", 1, "--amount", 0.5, "--seed", 2, "-o", "-")
    assert again.stdout == (tmp_path / "v" / "folk_16bar.var_s2_001.mid").read_bytes()
    bad = muse("vary", tune, "--amount", 2, "-o", tmp_path / "bad")
    assert bad.returncode == 2 and b"--amount" in bad.stderr and not (tmp_path / "bad").exists()
