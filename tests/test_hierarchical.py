"""The hierarchical 16-bar models (hierdec-mel_16bar, hierdec-trio_16bar) on both engines.

For each config, a tiny random-weight checkpoint made with magenta's own classes (one per session), its
kernels then scaled up (:func:`_sharpen`) so that the logits, the bar embeddings and the start inputs
decide most draws: magenta's initialisers make all three tiny, and then with seeded noise nearly every
sample is just the argmax of the noise, which any decoder would get right. On it:
decode_tensors gives the same one-hots on both engines from the same uniforms u (temperature 0.5 and
1.0), and with u = 0.5 (argmax); that argmax decode is also what magenta's own, unseeded
HierarchicalLstmDecoder gives at a temperature near 0 (so the seeded graph, the conductor, the segment
loop and the trio's split start inputs are magenta's, not only equal to each other); each core reads
its own noise columns of its own bar; encode_tensors gives the same mu and sigma within ATOL.
The slow tests repeat the comparison at the published sizes (default hparams) and print the times.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import both_engines

from muse_cli import engines, registry
from muse_cli.engines.base import uniforms
from muse_cli.engines.hierarchical import LEVELS, HierarchicalEngine
from muse_cli.engines.spec import spec_for

CONFIGS = ["hierdec-mel_16bar", "hierdec-trio_16bar"]
TINY = {"enc_rnn_size": [16], "dec_rnn_size": [8, 8], "z_size": 4}
ROWS = 20  # the magenta engine runs 8 at a time: three batches, the last one padded
TIE = 1e-4  # two logits this close may sample either way at temperature 1e-6 in float32
ATOL = 1e-5  # encode_tensors, |mu| and sigma of order 1 (measured: about 1e-7)
# kernel scales making the tiny random model's outputs matter (see the module docstring)
SCALES = {"initial_state": 300.0, "output_projection": 8.0, "encoder/mu": 1000.0, "encoder/sigma": 1000.0}


def _sharpen(folder) -> None:
    """Rewrite a random checkpoint with its kernels scaled (:data:`SCALES`, 3 for the LSTM cells)."""
    import tensorflow.compat.v1 as tf

    prefix = str(folder / "model.ckpt")
    reader = tf.train.load_checkpoint(prefix)
    with tf.Graph().as_default():
        for name in reader.get_variable_to_shape_map():
            value = reader.get_tensor(name)
            if name.endswith("kernel"):
                value = value * next((s for key, s in SCALES.items() if key in name), 3.0)
            tf.Variable(value, name=name)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, prefix, write_meta_graph=False)


def _engines(path, batch_size=8):
    return both_engines(path, batch_size)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """config -> (folder, numpy engine, magenta engine) on a tiny sharpened random checkpoint, made once."""
    from muse_cli.training.random_weights import make_random_checkpoint

    made = {}

    def get(config):
        if config not in made:
            folder = make_random_checkpoint(tmp_path_factory.mktemp("hier") / config, config, TINY, seed=3)
            _sharpen(folder)
            made[config] = (folder, *_engines(folder))
        return made[config]

    yield get
    for _, _, tf_engine in made.values():
        tf_engine.close()


@pytest.fixture(params=CONFIGS)
def pair(request, built):
    return built(request.param)[1:]


def _noise(spec, rows: int, seed: int) -> np.ndarray:
    return np.stack([uniforms((seed, i), spec.steps, spec.output_depth) for i in range(rows)])


def _latents(engine, rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, engine.z_size)).astype(np.float32)


def _assert_one_hot_per_core(config: str, samples: np.ndarray) -> None:
    assert set(np.unique(samples)) == {0.0, 1.0}
    first = 0
    for depth in LEVELS[config][1]:
        assert np.all(samples[..., first : first + depth].sum(-1) == 1)
        first += depth


def test_both_engines_have_the_configs_spec(pair):
    np_engine, tf_engine = pair
    assert isinstance(np_engine, HierarchicalEngine)
    spec = np_engine.spec
    assert spec == tf_engine.spec == spec_for(spec.config) and spec.steps == 256
    assert np_engine.z_size == tf_engine.z_size == TINY["z_size"]


@pytest.mark.parametrize("temperature", [0.5, 1.0])
def test_decode_tensors_same_samples_from_the_same_uniforms(pair, temperature):
    np_engine, tf_engine = pair
    spec = np_engine.spec
    z, u = _latents(np_engine, ROWS, seed=2), _noise(spec, ROWS, seed=5)
    got_np = np_engine.decode_tensors(z, temperature, u)
    assert got_np.shape == (ROWS, 256, spec.output_depth)
    assert np.array_equal(got_np, tf_engine.decode_tensors(z, temperature, u))
    _assert_one_hot_per_core(spec.config, got_np)
    # the model, not only the noise, decides: many melody draws are not the argmax of the noise alone
    # (measured 0.35 at temperature 1, 0.59 at 0.5; Gumbel noise is monotone in u)
    assert np.mean(np.argmax(got_np[..., :90], axis=-1) != np.argmax(u[..., :90], axis=-1)) > 0.2
    alone = np_engine.decode_tensors(z[:3], temperature, u[:3])
    assert np.array_equal(alone, got_np[:3])  # a row's draw does not depend on its batch


def test_uniforms_of_one_half_decode_deterministically(pair):
    np_engine, tf_engine = pair
    spec = np_engine.spec
    z = _latents(np_engine, ROWS, seed=4)
    half = np.full((ROWS, spec.steps, spec.output_depth), 0.5, np.float32)
    cold, warm = (np_engine.decode_tensors(z, t, half) for t in (0.5, 1.0))
    assert np.array_equal(cold, tf_engine.decode_tensors(z, 0.5, half))
    assert np.array_equal(warm, tf_engine.decode_tensors(z, 1.0, half))
    assert np.array_equal(cold, warm)  # argmax at any temperature
    _assert_one_hot_per_core(spec.config, cold)
    assert len(np.unique(cold[:, ::16].argmax(-1))) > 3  # bars differ: the conductor's embeddings matter


def _argmax_with_gaps(engine, z: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The NumPy engine's argmax decode (u = 0.5) and, per core, each row's and step's gap between its two
    best logits [n, 256] (the sampler's input, recorded on the way)."""
    gaps, samplers = [], [core.sampler for core in engine.decoder.cores]
    for core, sampler in zip(engine.decoder.cores, samplers):
        record = []

        def recorded(outputs, temperature, noise, record=record, sampler=sampler):
            top = np.sort(outputs, axis=-1)[:, -2:]
            record.append(top[:, 1] - top[:, 0])
            return sampler(outputs, temperature, noise)

        core.sampler = recorded
        gaps.append(record)
    try:
        samples = engine.decode_tensors(z, 1.0, np.full((len(z), 256, engine.spec.output_depth), 0.5))
    finally:
        for core, sampler in zip(engine.decoder.cores, samplers):
            core.sampler = sampler
    return samples, [np.stack(g, axis=1) for g in gaps]


@pytest.mark.parametrize("config", CONFIGS)
def test_argmax_decode_is_magentas_own_hierarchical_decoder(built, config):
    """magenta's own config (its unseeded classes) at temperature 1e-6 samples the argmax: what u = 0.5 gives.

    At 1e-6 float32 logits / T still tie where two logits are within about 1e-6, and magenta's sampler then
    picks either: a (row, core) may differ from its first differing step on, only where NumPy's two best
    logits there are within TIE (measured: none differ in most runs; the smallest gaps are about 3e-6)."""
    from magenta.models.music_vae import TrainedModel
    from magenta.models.music_vae import configs as magenta_configs

    folder, np_engine, _ = built(config)
    own = copy.deepcopy(magenta_configs.CONFIG_MAP[config])
    for key, value in TINY.items():
        own.hparams.set_hparam(key, value)
    tm = TrainedModel(own, batch_size=8, checkpoint_dir_or_path=str(folder / "model.ckpt"))
    try:
        z = _latents(np_engine, 8, seed=6)
        reference = np.asarray(tm.decode_to_tensors(z, length=256, temperature=1e-6))
    finally:
        tm._sess.close()
    samples, gaps = _argmax_with_gaps(np_engine, z)
    first, exact = 0, 0
    for core, gap in zip(np_engine.decoder.cores, gaps):
        cols = slice(first, first + core.depth)
        first += core.depth
        differs = (samples[..., cols] != reference[..., cols]).any(-1)
        for row in range(len(z)):
            if not differs[row].any():
                exact += 1
            else:
                assert gap[row, np.argmax(differs[row])] < TIE
    assert exact >= 0.75 * len(z) * len(gaps)


def test_each_core_reads_its_own_columns_of_its_own_bar(built):
    """Changing the drums core's uniforms of bar 5 changes only the drums, and only from bar 5 on."""
    _, np_engine, tf_engine = built("hierdec-trio_16bar")
    z, u = _latents(np_engine, 4, seed=7), _noise(np_engine.spec, 4, seed=7)
    changed = u.copy()
    changed[:, 80:96, 180:] = np.random.default_rng(8).random((4, 16, 512))
    for engine in (np_engine, tf_engine):
        before, after = engine.decode_tensors(z, 1.0, u), engine.decode_tensors(z, 1.0, changed)
        assert np.array_equal(before[:, :, :180], after[:, :, :180]) and np.array_equal(before[:, :80], after[:, :80])
        assert not np.array_equal(before[:, 80:96, 180:], after[:, 80:96, 180:])


def test_encode_tensors_same_mu_and_sigma(pair):
    np_engine, tf_engine = pair
    spec = np_engine.spec
    rng = np.random.default_rng(1)
    inputs = (rng.random((ROWS, spec.steps, spec.input_depth)) < 0.05).astype(np.float32)
    (mu_n, sigma_n), (mu_t, sigma_t) = np_engine.encode_tensors(inputs), tf_engine.encode_tensors(inputs)
    assert mu_n.shape == sigma_n.shape == (ROWS, TINY["z_size"])
    assert np.abs(mu_t).max() > 0.1  # latents of a useful size: the tolerance means something
    assert np.abs(mu_n - mu_t).max() <= ATOL and np.abs(sigma_n - sigma_t).max() <= ATOL


def test_wrong_shapes_are_refused(pair):
    np_engine, tf_engine = pair
    z = np.zeros((2, 4), np.float32)
    for engine in (np_engine, tf_engine):
        with pytest.raises(ValueError, match=r"u has shape \(2, 32, "):
            engine.decode_tensors(z, 1.0, np.full((2, 32, engine.spec.output_depth), 0.5))
        with pytest.raises(ValueError, match="takes no controls"):
            engine.decode_tensors(z, 1.0, np.full((2, 256, engine.spec.output_depth), 0.5), np.zeros((2, 256, 1)))


def test_the_numpy_engine_decodes_a_trio_without_tensorflow(built):
    """Once its weights are exported (the first load did it), a hierdec checkpoint costs NumPy only."""
    folder, _, _ = built("hierdec-trio_16bar")
    code = (
        "import sys, numpy as np; from muse_cli import engines, registry; "
        f"e = engines.load(registry.resolve({str(folder)!r}), 'numpy'); "
        "s = e.decode_tensors(np.zeros((2, 4)), 1.0, np.full((2, 256, 692), 0.5)); "
        "print(type(e).__name__, s.shape, 'tensorflow' in sys.modules, 'magenta' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["HierarchicalEngine", "(2,", "256,", "692)", "False", "False"], out.stderr[-2000:]


def test_the_melody_events_api_refuses_the_16_bar_models(built):
    """hierdec-mel_16bar has 90 melody classes but 256 steps: the 2-bar events API says to use the tensors."""
    from muse_cli.errors import CheckpointError

    calls = {
        "decode_events": (np.zeros((1, 4)),),
        "encode_events": (np.zeros((1, 32), int),),
        "reconstruction_loss_grad": (np.zeros((1, 4)), np.zeros((1, 32), int)),
    }
    for config in CONFIGS:
        for engine in built(config)[1:]:
            for method, args in calls.items():
                with pytest.raises(CheckpointError, match=f"is a {config} model, not a 2-bar melody one"):
                    getattr(engine, method)(*args)


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_published_sizes_both_engines_agree(tmp_path, config):
    """At the published sizes (z 512, encoder [2048, 2048], decoders [1024, 1024]): the same samples, close
    posteriors. Prints the times: checkpoint, loads, cold (first) decode of one row, a decode of 4 rows."""
    from muse_cli.training.random_weights import make_random_checkpoint

    clock = time.perf_counter()
    folder = make_random_checkpoint(tmp_path / config, config, {}, seed=3)
    times = {"checkpoint": time.perf_counter() - clock}
    ckpt = registry.resolve(str(folder))
    found = {}
    for kind in ("numpy", "magenta"):
        clock = time.perf_counter()
        found[kind] = engines.load(ckpt, kind, batch_size=4)
        times[f"{kind} load"] = time.perf_counter() - clock
    spec = found["numpy"].spec
    z, u = _latents(found["numpy"], 4, seed=2), _noise(spec, 4, seed=5)
    half = np.full_like(u, 0.5)
    got = {}
    for kind, engine in found.items():
        clock = time.perf_counter()
        engine.decode_tensors(z[:1], 1.0, u[:1])
        times[f"{kind} cold decode 1 row"] = time.perf_counter() - clock
        clock = time.perf_counter()
        got[kind] = engine.decode_tensors(z, 1.0, u), engine.decode_tensors(z, 1.0, half)
        times[f"{kind} decode 4 rows x2"] = time.perf_counter() - clock
    assert np.array_equal(got["numpy"][0], got["magenta"][0]) and np.array_equal(got["numpy"][1], got["magenta"][1])
    _assert_one_hot_per_core(config, got["numpy"][0])
    inputs = (np.random.default_rng(1).random((4, spec.steps, spec.input_depth)) < 0.05).astype(np.float32)
    (mu_n, sigma_n), (mu_t, sigma_t) = (e.encode_tensors(inputs) for e in (found["numpy"], found["magenta"]))
    times["mu max diff"], times["sigma max diff"] = np.abs(mu_n - mu_t).max(), np.abs(sigma_n - sigma_t).max()
    print(config, {k: round(float(v), 8 if "diff" in k else 2) for k, v in times.items()})
    assert times["mu max diff"] <= 1e-4 and times["sigma max diff"] <= 1e-4
    found["magenta"].close()
