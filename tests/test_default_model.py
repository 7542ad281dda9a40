"""The shipped default checkpoint, through TrainedModel: behaviour, not just loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from muse_cli import model as m
from muse_cli import registry, settings
from muse_cli.cli import cli
from muse_cli.evaluate import TEST_WINDOWS
from muse_cli.midi import events_to_notes, read_melody, windows


@pytest.fixture(scope="module")
def default_model():
    return m.load_model(None, batch_size=64)


def test_the_default_is_embedded_and_registered():
    ckpt = registry.resolve(None)
    assert ckpt.name == "muse-mel_2bar" and ckpt.path.is_relative_to(settings.EMBEDDED_DIR)
    size = sum(p.stat().st_size for p in ckpt.path.glob("model.ckpt*"))
    assert size <= 20e6
    manifest = json.loads((ckpt.path / "muse.json").read_text())
    assert manifest["sha256"] == ckpt.sha256 and len(ckpt.sha256) == 64
    assert not any("Adam" in p.name for p in ckpt.path.iterdir())


def test_samples_at_half_temperature_are_plausible_melodies(default_model):
    bounds = np.load(TEST_WINDOWS)
    lo, hi = int(bounds["train_min_pitch"]) - 5, int(bounds["train_max_pitch"]) + 5  # +-5: transposition
    melodies = m.sample(default_model, n=32, temperature=0.5, seed=3)
    for mel in melodies:
        pitches = [p for p, _, _ in mel.notes]
        assert 4 <= len(pitches) <= 32, mel.name
        assert lo <= min(pitches) and max(pitches) <= hi, (mel.name, min(pitches), max(pitches))


def test_round_trip_of_a_held_out_melody(default_model, data_dir):
    """folk_16bar.mid is from the test split (Essen dva0 #128): never seen in training."""
    mel = read_melody((data_dir / "folk_16bar.mid").read_bytes(), "folk_16bar.mid")
    events = np.stack([ev for _, ev in windows(mel)])
    mu, _ = default_model.encode_events(events)
    back = default_model.decode_events(mu, noise_seeds=None)
    assert np.mean(back == events) >= 0.85


def test_interpolation_ends_decode_near_the_inputs(default_model, data_dir):
    a = read_melody((data_dir / "folk_16bar.mid").read_bytes(), "a")
    b = read_melody((data_dir / "folk_b.mid").read_bytes(), "b")
    steps = m.interpolate(default_model, a, b, steps=5, temperature=0.05, seed=1)
    first = [p for p, _, _ in steps[0].notes]
    last = [p for p, _, _ in steps[-1].notes]
    a0 = [p for p, _, _ in events_to_notes(windows(a)[0][1])]
    b0 = [p for p, _, _ in events_to_notes(windows(b)[0][1])]

    def overlap(x, y):
        return len(set(x) & set(y)) / len(set(x) | set(y))

    assert overlap(first, a0) > overlap(first, b0)
    assert overlap(last, b0) > overlap(last, a0)


def test_muse_eval_prints_every_field():
    r = CliRunner().invoke(cli, ["eval", "--limit", "64", "--samples", "32", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    rec = out["reconstruction"]
    for k in ("step_accuracy", "exact_windows", "note_on_accuracy", "hold_baseline"):
        assert 0.0 <= rec[k] <= 1.0
    assert set(out["prior"]["overlapping_area"]) == {
        "pitch_range",
        "mean_abs_interval",
        "note_count",
        "pch_entropy",
        "mean_ioi",
    }
    assert out["seconds"]["total"] > 0
    text = CliRunner().invoke(cli, ["eval", "--limit", "32", "--samples", "16"]).stdout
    assert "always-hold baseline" in text and "overlapping area" in text and "time:" in text


def test_prompts_move_the_measured_attributes_of_the_shipped_model(default_model):
    """Opposite prompts give melodies whose measured attribute is ordered that way (pairwise accuracy
    over 12 x 12 melodies), and the feature-guided choice orders them at least as well as the head alone."""
    from muse_cli.midi import notes_to_events
    from muse_cli.prompt.api import sample_with_prompt
    from muse_cli.prompt.select import melody_features

    assert default_model.checkpoint.joinpath("prompt_head", "probe.npz").exists()

    def measure(text, key, candidates=None):
        mel = sample_with_prompt(default_model, text, n=12, seed=11, candidates=candidates)
        return np.array([melody_features(notes_to_events(g.notes, 0, 32))[key] for g in mel])

    def accuracy(a, b):
        return np.mean(a[:, None] > b[None, :]) + 0.5 * np.mean(a[:, None] == b[None, :])

    for high, low, key in (
        ("a tune in a high register", "a tune in a low register", "mean_pitch"),
        ("a busy tune", "a sparse tune", "density"),
    ):
        guided = accuracy(measure(high, key), measure(low, key))
        alone = accuracy(measure(high, key, candidates=1), measure(low, key, candidates=1))
        assert guided >= 0.9 and guided >= alone, (key, guided, alone)


def test_the_readme_prompt_gives_a_melody_not_a_held_note(default_model):
    """`muse decode/sample --prompt "a slow sad tune in A minor"`: sparse, yet 2 or more notes per 2 bars
    (guidance 2 decoded it as one held note). Steering (prompt.api.STEER 3) thinned it from 4 or more to 2 or
    more notes in 5 of these 11 melodies: a known cost of the steering, noted in README's Text prompts."""
    from muse_cli.prompt.api import decode_prompt, sample_with_prompt

    text = "a slow sad tune in A minor"
    melodies = sample_with_prompt(default_model, text, n=8, seed=1)
    melodies += [decode_prompt(default_model, text, seed=s)[0] for s in range(3)]
    counts = [len(g.notes) for g in melodies]
    assert min(counts) >= 2 and np.mean(counts) <= 10, counts


# sha256 over the decoder's variables (name, then float32 bytes, in name order) of the first shipped model. The
# encoder was retrained later with the decoder frozen (issue 12), so every prior sample keeps its bytes.
FIRST_DECODER_SHA256 = "370c550031bd6ee6085aa63bac2a6a2aabb1b1e00ded1d6f48802e72cbf3f057"


def test_the_shipped_decoder_is_the_first_shipped_decoder_bit_for_bit():
    import hashlib

    import tensorflow as tf

    from muse_cli.cache import checkpoint_prefix

    reader = tf.train.load_checkpoint(checkpoint_prefix(settings.EMBEDDED_DIR / "muse-mel_2bar"))
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith("decoder/"))
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(reader.get_tensor(name)).tobytes())
    assert len(names) == 8 and digest.hexdigest() == FIRST_DECODER_SHA256
