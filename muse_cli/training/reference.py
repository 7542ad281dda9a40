"""TensorFlow references that the tests and benches hold muse's NumPy code to (never on a generation path).

- :func:`reference_bert`: transformers' TFBertModel on the same MiniLM files as :mod:`muse_cli.prompt.text`.
"""

from __future__ import annotations

import os
from pathlib import Path

from muse_cli.prompt.text import model_dir


def reference_bert(directory: Path | None = None):
    """(BertTokenizerFast, TFBertModel) on the same files: the TensorFlow reference that tests and
    bench/bench_prompt.py hold the NumPy encoder to. Imports transformers and TensorFlow."""
    os.environ.update(USE_TF="1", USE_TORCH="0", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    legacy = os.environ.get("TF_USE_LEGACY_KERAS")
    from transformers import BertTokenizerFast, TFBertModel

    if legacy is None:  # transformers sets it for tf_keras, which we lack; tf.keras is Keras 2.15 already
        os.environ.pop("TF_USE_LEGACY_KERAS", None)
    directory = str(directory or model_dir())
    tokenizer = BertTokenizerFast.from_pretrained(directory, local_files_only=True)
    return tokenizer, TFBertModel.from_pretrained(directory, local_files_only=True, use_safetensors=True)
