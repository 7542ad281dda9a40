"""Text prompts: the MiniLM encoder (in NumPy; test_text_numpy.py compares it with TFBertModel), the
head's fit (resumed once), sampling and decoding with a prompt on the tiny checkpoint, refusals, and
the adherence evaluation's plumbing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from muse_cli.errors import PromptError

TINY_FIT = dict(steps=4, windows=96, captions=24, batch=8, save_every=2)


def _tune(i: int, collection: str, fields: dict, pitches: list[int], dur: float, mode: str, split="train"):
    notes, t = [], 0.0
    for k in range(int(16 / dur)):  # 4 bars of 4/4
        p = pitches[k % len(pitches)]
        notes.append((p, t, t + dur))
        t += dur
    return {
        "id": f"{collection}/t{i}",
        "collection": collection,
        "file": f"t{i}",
        "title": fields.get("T", ""),
        "fields": fields,
        "meter": "4/4",
        "meters": ["4/4"],
        "bar_quarters": 4.0,
        "key": "D",
        "mode": mode,
        "notes": notes,
        "split": split,
    }


def synthetic_tunes() -> list[dict]:
    """Busy high Irish reels and slow low German songs, in every split."""
    tunes = []
    for i in range(12):
        split = ("train", "train", "valid", "test")[i % 4]
        tunes.append(
            _tune(
                i,
                "oneills1850",
                {"T": f"Reel {i}", "R": "reel"},
                [74 + (i % 3), 76, 78, 79, 81, 79, 78, 76],
                0.5,
                "major",
                split,
            )
        )
        tunes.append(
            _tune(
                100 + i,
                "essenFolksong",
                {"T": f"Lied {i}", "O": "Europa, Mitteleuropa, Deutschland", "R": "Liebes - Lied"},
                [62 - (i % 3), 57, 58, 60, 57, 55],
                2.0,
                "minor",
                split,
            )
        )
    return tunes


@pytest.fixture(scope="session")
def text_encoder():
    from muse_cli.prompt.text import load_text_encoder

    return load_text_encoder()


def _with_home(home: Path):
    old = os.environ.get("MUSE_HOME")
    os.environ["MUSE_HOME"] = str(home)
    return old


@pytest.fixture(scope="session")
def prompted(tiny_checkpoint, tmp_path_factory, text_encoder):
    """A copy of the tiny checkpoint with a head fitted in two runs (stopped after 2 steps, resumed)."""
    from muse_cli.model import load_model
    from muse_cli.training.prompt_head import FitOptions, fit

    root = tmp_path_factory.mktemp("prompted")
    ckpt = root / "tiny"
    shutil.copytree(tiny_checkpoint, ckpt)
    old = _with_home(root / "home")
    logs: list[str] = []
    try:
        model = load_model(str(ckpt), batch_size=8)
        first = fit(model, synthetic_tunes(), FitOptions(**TINY_FIT), progress=False, log=logs.append, stop_after=2)
        second = fit(model, synthetic_tunes(), FitOptions(**TINY_FIT), progress=False, log=logs.append)
        straight = fit(
            model,
            synthetic_tunes(),
            FitOptions(**TINY_FIT),
            out_dir=root / "straight_head",
            restart=True,
            progress=False,
            log=logs.append,
        )
    finally:
        os.environ.pop("MUSE_HOME") if old is None else os.environ.__setitem__("MUSE_HOME", old)
    return {
        "model": model,
        "ckpt": ckpt,
        "first": first,
        "second": second,
        "straight": straight,
        "logs": logs,
        "root": root,
    }


# -- the text encoder -------------------------------------------------------------------
def test_importing_the_cli_loads_no_tensorflow_transformers_or_torch():
    code = (
        "import sys, muse_cli.cli, muse_cli.cli.prompt, muse_cli.prompt.api, muse_cli.training.prompt_head\n"
        "print(sorted(m for m in ('tensorflow', 'transformers', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_text_encoder_gives_masked_embeddings_of_real_minilm(text_encoder):
    h, mask = text_encoder.embed(["a busy Irish reel", "a slow lullaby in a minor key"])
    assert h.shape[0] == 2 and h.shape[2] == 384 and mask.shape == h.shape[:2]
    assert mask[0].sum() < mask[1].sum()
    assert np.all(h[0, mask[0].sum() :] == 0)
    assert "torch" not in sys.modules
    s = text_encoder.sentence(["a happy tune", "a cheerful melody", "the stock market fell"])
    assert s[0] @ s[1] > 0.5 > s[0] @ s[2]  # real MiniLM weights, not random ones


def test_long_prompts_are_cut_to_128_tokens_with_a_warning(text_encoder):
    from muse_cli.prompt.text import MAX_TOKENS, embed_prompts

    said: list[str] = []
    h, mask = embed_prompts(["la " * 300, "short"], warn=said.append)
    assert h.shape[1] == MAX_TOKENS and mask[0].sum() == MAX_TOKENS
    assert len(said) == 1 and "128 tokens" in said[0]


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\x00\x1b\x7f"])
def test_empty_prompt_is_a_prompt_error(text):
    from muse_cli.prompt.text import check_prompt

    with pytest.raises(PromptError, match="empty"):
        check_prompt(text)


# -- captions ------------------------------------------------------------------------------
def test_captions_name_window_labels_and_keep_heldout_wordings_apart():
    from muse_cli.adherence import PAIRS, heldout_prompts
    from muse_cli.training import captions as cap

    win = cap.collect_windows(synthetic_tunes(), 200, seed=0)
    assert len(win) > 20
    reel = [lab for lab, t in zip(win.labels, win.tune) if t.startswith("oneills")][0]
    assert reel["source"] == "irish" and reel["type"] == "reel"
    texts, labels = cap.caption_pool(win, 60, seed=0)
    for text, lab, idx in zip(texts, labels, cap.matches(win, labels)):
        assert text.strip() and len(idx) >= 1
        assert all(all(win.labels[i].get(k) == v for k, v in lab.items()) for i in idx)
    train_words = {w for table in (cap.ADJ, cap.POST) for train, _ in table.values() for w in train}
    for table in (cap.ADJ, cap.POST):
        for _, heldout in table.values():
            assert not set(heldout) & train_words
    for pair in PAIRS:
        for labels_ in (pair.a, pair.b):
            prompts = heldout_prompts(labels_)
            assert len(prompts) >= 2 and not set(prompts) & set(texts)


# -- fitting ---------------------------------------------------------------------------
def test_fit_stops_resumes_and_matches_an_uninterrupted_run(prompted):
    assert prompted["first"] is None
    assert any("resuming at step 2" in line for line in prompted["logs"])
    assert any(line.startswith("fit-prompt: about") for line in prompted["logs"])
    head_dir = prompted["second"]
    assert head_dir == prompted["ckpt"] / "prompt_head"
    assert {p.name for p in head_dir.iterdir()} >= {"head.json", "head.npz", "probe.npz"}
    a, b = np.load(head_dir / "head.npz"), np.load(prompted["straight"] / "head.npz")
    for k in a.files:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_feature_probe_reads_what_the_captions_say(prompted):
    """The synthetic reels are high and busy, the German songs low and slow: the probe, fitted with
    the head, must predict that from the words, and it survives a save and load."""
    from muse_cli.prompt.api import load_head, prompt_guides
    from muse_cli.prompt.select import FeatureProbe

    assert (prompted["second"] / "probe.npz").exists()
    probe = load_head(prompted["model"]).probe
    assert probe is not None
    again = FeatureProbe.load(prompted["second"])
    np.testing.assert_array_equal(again.weights, probe.weights)
    g = prompt_guides(prompted["model"], ["a busy Irish reel", "a slow German love song in a minor key"])
    pitch, density = probe.features.index("mean_pitch"), probe.features.index("density")
    assert g.features[0, pitch] > g.features[1, pitch]
    assert g.features[0, density] > g.features[1, density]


def test_choice_keeps_the_candidate_that_fits_and_is_seeded(prompted):
    from muse_cli.form import walk_around
    from muse_cli.paths import decode_paths
    from muse_cli.prompt.api import prompt_guides, sample_with_prompt
    from muse_cli.prompt.select import TARGET_GUIDANCE, melody_features, plausible

    model = prompted["model"]
    text = "a busy Irish reel"
    (chosen,) = sample_with_prompt(model, text, n=1, seed=4, first_index=2, candidates=6)
    (again,) = sample_with_prompt(model, text, n=1, seed=4, first_index=2, candidates=6)
    (plain,) = sample_with_prompt(model, text, n=1, seed=4, first_index=2, candidates=1)
    assert chosen.notes == again.notes
    # rebuild the six candidates by hand: the kept one has the best score, candidate 0 is the plain draw
    g = prompt_guides(model, [text])
    paths = [walk_around(g.mean[0], g.sigma[0], 4, 2, 1, 1.0, candidate=c) for c in range(6)]
    events = decode_paths(model, paths, [(4, 2) + ((c,) if c else ()) for c in range(6)], 1.0)
    from muse_cli.midi import events_to_notes

    notes = [events_to_notes(ev) for ev in events]
    assert notes[0] == plain.notes
    scores = g.probe.scores(
        g.features[0], g.neutral, g.probe.standardize([melody_features(e) for e in events]), TARGET_GUIDANCE
    )
    scores[[not plausible(e) for e in events]] = -np.inf  # a near-empty candidate is never chosen
    assert chosen.notes == (notes[int(np.argmax(scores))] if np.isfinite(scores).any() else notes[0])


def test_head_is_small_and_tied_to_the_checkpoint_weights(prompted):
    import hashlib
    import json

    from muse_cli.prompt.head import PromptHead

    meta = json.loads((prompted["second"] / "head.json").read_text())
    data = sorted(prompted["ckpt"].glob("model.ckpt.data-*"))
    assert meta["checkpoint_sha256"] == hashlib.sha256(data[0].read_bytes()).hexdigest()
    assert meta["z_size"] == 8
    assert PromptHead(512).params <= 2_000_000  # cat-mel_2bar_big's z


# -- sampling and decoding -------------------------------------------------------------------
def _valid(notes, steps):
    assert notes
    for p, s, e in notes:
        assert 21 <= p <= 108 and 0 <= s < e <= steps


def test_sample_with_prompt_is_seeded_and_follows_the_prompt(prompted):
    from muse_cli.prompt.api import prompt_regions, sample_with_prompt

    model = prompted["model"]
    a1 = sample_with_prompt(model, "a busy Irish reel", n=3, seed=5)
    a2 = sample_with_prompt(model, "a busy Irish reel", n=3, seed=5)
    b = sample_with_prompt(model, "a slow German love song in a minor key", n=3, seed=5)
    assert [g.notes for g in a1] == [g.notes for g in a2]
    assert len({tuple(g.notes) for g in a1}) == 3
    # The tiny head barely moves after 4 steps: magnify its difference and decode nearly by argmax
    # so that the prompt, not the sampling noise, decides the notes.
    sharp = [
        sample_with_prompt(model, t, n=4, seed=5, temperature=0.05, guidance=1000.0)
        for t in ("a busy Irish reel", "a slow German love song in a minor key")
    ]
    assert [g.notes for g in sharp[0]] != [g.notes for g in sharp[1]]
    for g in a1 + b:
        _valid(g.notes, 32)
        assert g.provenance["prompt"] in ("a busy Irish reel", "a slow German love song in a minor key")
        assert g.midi()[:4] == b"MThd"
    means, sigmas = prompt_regions(model, ["a busy Irish reel", "a slow German love song in a minor key"])
    assert not np.allclose(means[0], means[1]) and np.all(sigmas > 0)


def test_long_form_with_a_prompt(prompted):
    from muse_cli.prompt.api import sample_with_prompt

    (g,) = sample_with_prompt(prompted["model"], "a rising hornpipe", n=1, seconds=12, seed=1, qpm=120)
    assert g.seconds == 12 and g.provenance["seconds"] == 12
    _valid(g.notes, 32 * 3)


@pytest.mark.parametrize("text", ["this is a test", "ein trauriges Lied in Moll", "日本の民謡 🎵🎻", "🎶"])
def test_prompts_without_musical_words_or_in_other_scripts_give_a_melody(prompted, text):
    from muse_cli.prompt.api import sample_with_prompt

    first = sample_with_prompt(prompted["model"], text, n=1, seed=9)[0]
    again = sample_with_prompt(prompted["model"], text, n=1, seed=9)[0]
    _valid(first.notes, 32)
    assert first.notes == again.notes


def test_overlong_prompt_says_it_was_cut(prompted, capsys):
    from muse_cli.prompt.api import sample_with_prompt

    sample_with_prompt(prompted["model"], "a reel " * 200, n=1, seed=1)
    assert "cut to its first 128 tokens" in capsys.readouterr().err


def test_decode_prompt_gives_one_repeatable_melody(prompted):
    from muse_cli.prompt.api import decode_prompt

    (a,) = decode_prompt(prompted["model"], "a march in G major", seed=3)
    (b,) = decode_prompt(prompted["model"], "a march in G major", seed=3)
    assert a.notes == b.notes and a.name == "prompt.decoded"
    _valid(a.notes, 32)
    assert a.provenance["prompt"] == "a march in G major"


@pytest.mark.parametrize("text", ["", "  "])
def test_empty_prompt_refused_before_any_work(prompted, text):
    from muse_cli.prompt.api import decode_prompt, sample_with_prompt

    with pytest.raises(PromptError, match="empty"):
        sample_with_prompt(prompted["model"], text, n=1, seed=1)
    with pytest.raises(PromptError, match="empty"):
        decode_prompt(prompted["model"], text, seed=1)


def test_head_of_another_checkpoint_is_refused(prompted, tmp_path):
    import json

    from muse_cli.model import load_model
    from muse_cli.prompt.api import sample_with_prompt
    from muse_cli.training.random_weights import make_random_checkpoint

    hparams = json.loads((prompted["ckpt"] / "muse.json").read_text())["hparams"]
    other = make_random_checkpoint(tmp_path / "other", "cat-mel_2bar_small", hparams, seed=1, name="other")
    shutil.copytree(prompted["ckpt"] / "prompt_head", other / "prompt_head")
    model = load_model(str(other), batch_size=8)
    with pytest.raises(PromptError, match="trained for another checkpoint") as err:
        sample_with_prompt(model, "a reel", n=1, seed=1)
    assert "\n" not in str(err.value) and "muse fit-prompt" in str(err.value)


def test_missing_head_names_the_fit_command(tiny_checkpoint, tmp_path):
    from muse_cli.model import load_model
    from muse_cli.prompt.api import sample_with_prompt

    ckpt = tmp_path / "bare"
    shutil.copytree(tiny_checkpoint, ckpt, ignore=shutil.ignore_patterns("prompt_head"))
    model = load_model(str(ckpt), batch_size=8)
    with pytest.raises(PromptError, match="muse fit-prompt --checkpoint"):
        sample_with_prompt(model, "a reel", n=1, seed=1)


# -- the command and the evaluation ----------------------------------------------------------
def test_fit_prompt_command(prompted, tmp_path):
    from click.testing import CliRunner

    from muse_cli.cli import cli
    from muse_cli.training.corpus import save_tunes

    tunes = tmp_path / "tunes.json.gz"  # the corpus is data, never a pickle
    save_tunes(synthetic_tunes(), tunes)
    ckpt = tmp_path / "tiny"
    shutil.copytree(prompted["ckpt"], ckpt, ignore=shutil.ignore_patterns("prompt_head"))
    out = ckpt / "prompt_head"  # where --prompt reads it: fit-prompt has no -o (issue 20)
    result = CliRunner().invoke(
        cli,
        [
            "fit-prompt",
            "-c",
            str(ckpt),
            "--steps",
            "2",
            "--windows",
            "40",
            "--captions",
            "8",
            "--tunes",
            str(tunes),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert "fit-prompt: about" in result.stderr and (out / "head.json").exists()


def test_sample_and_decode_take_candidates(prompted, tmp_path):
    """`--candidates N` reaches the choice: the CLI writes what the library makes with that N."""
    from click.testing import CliRunner

    from muse_cli.cli import cli
    from muse_cli.prompt.api import decode_prompt, sample_with_prompt

    model, text = prompted["model"], "a busy Irish reel"
    for k in (1, 6):
        out = tmp_path / f"s{k}.mid"
        r = CliRunner().invoke(
            cli,
            ["sample", "-p", text, "--candidates", str(k), "--seed", "4", "-c", str(prompted["ckpt"]), "-o", str(out)],
            catch_exceptions=False,
        )
        assert r.exit_code == 0, r.stderr
        (g,) = sample_with_prompt(model, text, n=1, seed=4, candidates=k)
        assert out.read_bytes() == g.midi()
        out = tmp_path / f"d{k}.mid"
        r = CliRunner().invoke(
            cli,
            ["decode", "-p", text, "--candidates", str(k), "--seed", "4", "-c", str(prompted["ckpt"]), "-o", str(out)],
            catch_exceptions=False,
        )
        assert r.exit_code == 0, r.stderr
        (g,) = decode_prompt(model, text, seed=4, candidates=k)
        assert out.read_bytes() == g.midi()
    r = CliRunner().invoke(cli, ["sample", "-p", text, "--candidates", "0"])
    assert r.exit_code == 2 and "--candidates" in r.stderr


def test_evaluate_prompts_reports_every_pair(prompted):
    from muse_cli.adherence import PAIRS, evaluate_prompts, format_report, pairwise_accuracy

    assert pairwise_accuracy([2, 3], [1, 3]) == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    result = evaluate_prompts(prompted["model"], n_per_pole=2, seed=0, tunes=synthetic_tunes())
    assert [r["name"] for r in result["pairs"]] == [p.name for p in PAIRS]
    for r in result["pairs"]:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["baseline"] <= 1.0
        assert r["prompts_a"] and r["prompts_b"]
    p = result["plausible"]
    assert 0.0 <= p["share"] <= 1.0 and 0.0 <= p["share_prior"] <= 1.0 and 0 <= p["min"] <= p["mean"] <= 32
    text = format_report(result)
    assert "Irish reel vs German folk song" in text and "mean" in text and "notes per 2 bars" in text
