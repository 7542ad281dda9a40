"""The tensor-level engine API on the one-level family configs: NumPy against magenta's TrainedModel.

For each config, a tiny random-weight checkpoint made with magenta's own classes (one per session):
encode_tensors gives the same mu and sigma (within 1e-5), and decode_tensors with the same uniforms u
the same samples: categorical one-hots and NADE / groove hits exactly, groove velocities and offsets
within 1e-5; at temperatures 0.5 and 1.0, with per-row chord controls for the chords config; and
u = 0.5 decodes deterministically (the same samples at every temperature). The slow tests repeat it
at the published sizes (default hparams).
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
from conftest import both_engines

from muse_cli.configs import FAMILY_CONFIGS
from muse_cli.engines.base import gumbel_of, uniforms
from muse_cli.engines.spec import spec_for

CONFIGS = list(FAMILY_CONFIGS)
TINY = {"enc_rnn_size": [16], "dec_rnn_size": [8, 8], "z_size": 4}
ROWS = 40  # the magenta engine runs 16 at a time: three batches, the last one padded
ATOL = 1e-5


def _tiny_hparams(config: str) -> dict:
    return {**TINY, "nade_num_hidden": 5} if config.startswith("nade") else dict(TINY)


def _engines(path, batch_size=16):
    return both_engines(path, batch_size)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """config -> (numpy engine, magenta engine) on a tiny random checkpoint of it, each made once."""
    from muse_cli.training.random_weights import make_random_checkpoint

    made = {}

    def get(config):
        if config not in made:
            folder = tmp_path_factory.mktemp("fam") / config
            made[config] = _engines(make_random_checkpoint(folder, config, _tiny_hparams(config), seed=3))
        return made[config]

    yield get
    for _, tf_engine in made.values():
        tf_engine.close()


@pytest.fixture(params=CONFIGS)
def pair(request, built):
    return built(request.param)


def _inputs(spec, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Encoder inputs (random 0/1) and, for configs with controls, one random chord per step and row."""
    rng = np.random.default_rng(seed)
    inputs = (rng.random((rows, spec.steps, spec.input_depth)) < 0.2).astype(np.float32)
    if not spec.control_depth:
        return inputs, None
    chords = rng.integers(0, spec.control_depth, (rows, spec.steps))
    return inputs, np.eye(spec.control_depth, dtype=np.float32)[chords]


def _noise(spec, rows: int, seed: int) -> np.ndarray:
    return np.stack([uniforms((seed, i), spec.steps, spec.output_depth) for i in range(rows)])


def _assert_same_samples(spec, got_np, got_tf):
    """The discrete parts (one-hots, NADE units, groove hits) equal, and the continuous ones (groove velocities
    and offsets) within ATOL, on every row but at most one of 40: NumPy and TensorFlow round the last bits
    differently, so a unit whose logit ties zero to ~1e-6 (one was seen in the tiny NADE model: 1.5e-6) can
    go the other way, and its row's later steps follow it. bench/bench_family_engines.py counts 0 differing
    steps of 8,192 or more per config and temperature."""
    assert got_np.shape == got_tf.shape == (len(got_np), spec.steps, spec.output_depth)
    split = spec.output_depth // 3 if spec.sampler == "groove" else spec.output_depth
    differ = np.any(got_np[..., :split] != got_tf[..., :split], axis=(1, 2))
    assert differ.sum() <= max(1, len(differ) // 40), f"{differ.sum()} of {len(differ)} rows differ"
    if split < spec.output_depth:
        assert np.abs(got_np[~differ][..., split:] - got_tf[~differ][..., split:]).max() <= ATOL


def _assert_valid(spec, samples):
    if spec.sampler == "categorical":
        assert np.all(samples.sum(-1) == 1) and set(np.unique(samples)) == {0.0, 1.0}
    elif spec.sampler == "nade":
        assert set(np.unique(samples)) == {0.0, 1.0}
    else:
        hits, velocities, offsets = np.split(samples, 3, axis=-1)
        assert set(np.unique(hits)) == {0.0, 1.0}
        assert velocities.min() > 0 and velocities.max() < 1 and np.abs(offsets).max() < 1


def test_both_engines_have_the_configs_spec(pair):
    np_engine, tf_engine = pair
    spec = np_engine.spec
    assert spec == tf_engine.spec == spec_for(spec.config)
    assert np_engine.z_size == tf_engine.z_size == TINY["z_size"]


def test_encode_tensors_same_mu_and_sigma(pair):
    np_engine, tf_engine = pair
    inputs, controls = _inputs(np_engine.spec, ROWS, seed=1)
    (mu_n, sigma_n), (mu_t, sigma_t) = (
        np_engine.encode_tensors(inputs, controls),
        tf_engine.encode_tensors(inputs, controls),
    )
    assert mu_n.shape == sigma_n.shape == (ROWS, TINY["z_size"])
    assert np.abs(mu_n - mu_t).max() <= ATOL and np.abs(sigma_n - sigma_t).max() <= ATOL
    assert sigma_n.min() > 0 and np.unique(mu_n.round(6), axis=0).shape[0] == ROWS  # every row its own


@pytest.mark.parametrize("temperature", [0.5, 1.0])
def test_decode_tensors_same_samples_from_the_same_uniforms(pair, temperature):
    np_engine, tf_engine = pair
    spec = np_engine.spec
    z = np.random.default_rng(2).standard_normal((ROWS, np_engine.z_size)).astype(np.float32) * 3
    _, controls = _inputs(spec, ROWS, seed=2)
    u = _noise(spec, ROWS, seed=5)
    got_np = np_engine.decode_tensors(z, temperature, u, controls)
    _assert_same_samples(spec, got_np, tf_engine.decode_tensors(z, temperature, u, controls))
    _assert_valid(spec, got_np)
    other = np_engine.decode_tensors(z, temperature, _noise(spec, ROWS, seed=6), controls)
    assert not np.array_equal(other, got_np)  # the noise decides the draw
    alone = np_engine.decode_tensors(z[:7], temperature, u[:7], None if controls is None else controls[:7])
    _assert_same_samples(spec, alone, got_np[:7])  # a row's draw does not depend on its batch


def test_uniforms_of_one_half_decode_deterministically(pair):
    np_engine, tf_engine = pair
    spec = np_engine.spec
    z = np.random.default_rng(4).standard_normal((ROWS, np_engine.z_size)).astype(np.float32) * 3
    _, controls = _inputs(spec, ROWS, seed=4)
    half = np.full((ROWS, spec.steps, spec.output_depth), 0.5, np.float32)
    cold, warm = (np_engine.decode_tensors(z, t, half, controls) for t in (0.5, 1.0))
    _assert_same_samples(spec, cold, tf_engine.decode_tensors(z, 0.5, half, controls))
    _assert_same_samples(spec, warm, tf_engine.decode_tensors(z, 1.0, half, controls))
    # argmax, p > 0.5, logit > 0: the same at any temperature (groove velocities and offsets never depend on it)
    split = spec.output_depth // 3 if spec.sampler == "groove" else spec.output_depth
    assert np.array_equal(cold[..., :split], warm[..., :split])


def test_per_row_controls_match_trainedmodels_one_sequence(built):
    """The seeded decoder's per-row controls default to TrainedModel's one control sequence, tiled: with the
    same chords in every row, feeding them per row gives what TrainedModel's own c_input gives; with each
    row's own chords, rows decode under their own (and NumPy agrees, test above)."""
    np_engine, tf_engine = built("cat-mel_2bar_med_chords")
    spec, tm, rows = tf_engine.spec, tf_engine._tm, tf_engine.batch_size
    z = np.random.default_rng(8).standard_normal((rows, tf_engine.z_size)).astype(np.float32) * 3
    _, controls = _inputs(spec, rows, seed=8)
    same = np.repeat(controls[:1], rows, axis=0)
    u = _noise(spec, rows, seed=8)
    feed = {tm._z_input: z, tm._temperature: 1.0, tm._max_length: spec.steps, tm._c_input: controls[0]}
    feed[tf_engine._noise] = gumbel_of(u)  # the categorical decoder reads Gumbel noise
    reference = tm._sess.run(tm._outputs, feed)
    assert np.array_equal(tf_engine.decode_tensors(z, 1.0, u, same), reference)
    shared = np_engine.decode_tensors(z, 1.0, u, same)
    _assert_same_samples(spec, shared, reference)
    own = np_engine.decode_tensors(z, 1.0, u, controls)
    assert np.array_equal(own[0], shared[0])
    for i in (1, rows - 1):  # each row under its own chords: what that row decodes alone with them
        alone = np_engine.decode_tensors(z[i : i + 1], 1.0, u[i : i + 1], controls[i : i + 1])
        assert np.array_equal(own[i], alone[0])
        # (a tiny random model may draw the same notes under other chords, so no difference is asserted)


def test_controls_are_required_exactly_where_the_config_has_them(built):
    np_engine, tf_engine = built("cat-mel_2bar_med_chords")
    drums, _ = built("cat-drums_2bar_small")
    z = np.zeros((2, 4), np.float32)
    for engine in (np_engine, tf_engine):
        with pytest.raises(ValueError, match="needs controls"):
            engine.decode_tensors(z, 1.0, np.full((2, 32, 90), 0.5), None)
    with pytest.raises(ValueError, match="takes no controls"):
        drums.decode_tensors(z, 1.0, np.full((2, 32, 512), 0.5), np.zeros((2, 32, 49)))
    with pytest.raises(ValueError, match=r"u has shape \(2, 32, 90\), expected \(2, 32, 512\)"):
        drums.decode_tensors(z, 1.0, np.full((2, 32, 90), 0.5))


def test_the_numpy_engine_decodes_a_family_checkpoint_without_tensorflow(built):
    """Once its weights are exported (the first load did it), a family checkpoint costs NumPy only."""
    np_engine, _ = built("nade-drums_2bar_full")
    code = (
        "import sys, numpy as np; from muse_cli import engines, registry; "
        f"e = engines.load(registry.resolve({str(np_engine.checkpoint)!r}), 'numpy'); "
        "s = e.decode_tensors(np.zeros((2, 4)), 1.0, np.full((2, 32, 61), 0.5)); "
        "print(e.spec.sampler, s.shape, 'tensorflow' in sys.modules, 'magenta' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["nade", "(2,", "32,", "61)", "False", "False"], out.stderr[-2000:]


def test_composite_decoders_hook_reads_its_slice_of_one_shared_noise():
    """The hook for hierarchical and split decoders: two seeded cores share one noise tensor (depth offsets
    0 and 90), each sampled twice (call k reads steps [k L, (k + 1) L), the second starting from the first's
    last sample); NumPy's CoreDecoder given the same slices and start draws the same samples."""
    import tensorflow.compat.v1 as tf

    from muse_cli.configs import build_config
    from muse_cli.decoders import SeededCategoricalLstmDecoder
    from muse_cli.engines.sequence import Categorical, CoreDecoder

    hparams = build_config("cat-mel_2bar_small", {"dec_rnn_size": [8, 8], "z_size": 4}).hparams
    rows, steps, depths = 3, 5, (90, 90)
    rng = np.random.default_rng(10)
    g = gumbel_of(rng.random((rows, 2 * steps, sum(depths))))
    z = rng.standard_normal((rows, 4)).astype(np.float32)
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()  # magenta's decoders read it at build (MusicVAE.build makes it)
        noise, z_in, outs, cores = tf.placeholder(tf.float32, g.shape), tf.placeholder(tf.float32, z.shape), [], []
        for i, depth in enumerate(depths):
            core = SeededCategoricalLstmDecoder()
            with tf.variable_scope(f"core_{i}", reuse=tf.AUTO_REUSE):
                core.build(hparams, depth, is_training=False)
                core.noise, core.depth_offset = noise, sum(depths[:i])
                first, _ = core.sample(rows, steps, z=z_in, temperature=1.0)
                second, _ = core.sample(rows, steps, z=z_in, temperature=1.0, start_inputs=first[:, -1])
            outs.append(tf.concat([first, second], axis=1))
            cores.append(core)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            weights = {v.op.name: sess.run(v) for v in tf.global_variables()}
            got = sess.run(outs, {noise: g, z_in: z})
    assert [core.calls for core in cores] == [2, 2]
    for i, depth in enumerate(depths):
        decoder = CoreDecoder(weights, f"core_{i}/decoder/", Categorical(depth))
        part = g[:, :, sum(depths[:i]) : sum(depths[: i + 1])]
        first, state = decoder.decode(z, 1.0, part[:, :steps])
        second, _ = decoder.decode(z, 1.0, part[:, steps:], start=first[:, -1])
        assert np.array_equal(np.concatenate([first, second], axis=1), got[i])
        assert state.shape == (rows, 2 * 2 * 8)  # (c0, h0, c1, h1)


def test_the_melody_events_api_refuses_other_models_in_one_line(built):
    from muse_cli.errors import CheckpointError

    calls = {
        "decode_events": (np.zeros((1, 4)),),
        "encode_events": (np.zeros((1, 32), int),),
        "reconstruction_loss_grad": (np.zeros((1, 4)), np.zeros((1, 32), int)),
    }
    for engine in (*built("cat-drums_2bar_small"), *built("cat-mel_2bar_med_chords")):
        for method, args in calls.items():
            with pytest.raises(CheckpointError, match=r"is a cat-\S+ model, not a 2-bar melody one; its tensors go"):
                getattr(engine, method)(*args)


def test_the_spec_table_is_magentas():
    """engines.spec knows each config's tensors without TensorFlow: the same as magenta's own configs say."""
    from magenta.models.music_vae import configs as magenta_configs

    from muse_cli.engines.spec import configs

    samplers = {"CategoricalLstmDecoder": "categorical", "MultiLabelRnnNadeDecoder": "nade"}
    samplers["GrooveLstmDecoder"] = "groove"
    samplers["HierarchicalLstmDecoder"] = "categorical"  # hierdec-*: categorical cores (tests/test_hierarchical.py)
    for name in configs():
        config = copy.deepcopy(magenta_configs.CONFIG_MAP[name])
        converter, spec = config.data_converter, spec_for(name)
        got = (spec.steps, spec.input_depth, spec.output_depth, spec.control_depth)
        assert got == (
            config.hparams.max_seq_len,
            converter.input_depth,
            converter.output_depth,
            converter.control_depth,
        )
        assert spec.sampler == samplers[type(config.model.decoder).__name__]
    assert set(CONFIGS) < set(configs())
    assert spec_for("groovae_4bar", {"max_seq_len": 32}).steps == 32


def test_melody_decode_tensors_draws_what_decode_events_draws(tiny_checkpoint):
    """A melody's uniforms are the very ones its seed gives decode_events: the same events, one-hot."""
    np_engine, tf_engine = _engines(tiny_checkpoint, batch_size=64)
    z = np.random.default_rng(9).standard_normal((50, np_engine.z_size)).astype(np.float32)
    seeds = [(9, i, 1, 0) for i in range(50)]
    u = np.stack([uniforms(s) for s in seeds])
    for engine in (np_engine, tf_engine):
        events = engine.decode_events(z, 1.0, seeds)
        assert np.array_equal(np.argmax(engine.decode_tensors(z, 1.0, u), axis=-1), events)
        assert len(np.unique(events)) > 10
    tf_engine.close()


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_published_shapes_agree(config, tmp_path):
    """At the published sizes (magenta's default hparams, random weights): the same posteriors and samples."""
    from muse_cli.training.random_weights import make_random_checkpoint

    np_engine, tf_engine = _engines(make_random_checkpoint(tmp_path / config, config, {}, seed=1), batch_size=8)
    spec, rows = np_engine.spec, 12
    assert np_engine.z_size == tf_engine.z_size == 256
    inputs, controls = _inputs(spec, rows, seed=11)
    (mu_n, sigma_n), (mu_t, sigma_t) = (
        np_engine.encode_tensors(inputs, controls),
        tf_engine.encode_tensors(inputs, controls),
    )
    assert np.abs(mu_n - mu_t).max() <= ATOL and np.abs(sigma_n - sigma_t).max() <= ATOL
    z = np.random.default_rng(12).standard_normal((rows, np_engine.z_size)).astype(np.float32)
    for temperature, u in ((1.0, _noise(spec, rows, seed=13)), (0.5, np.full_like(_noise(spec, rows, 0), 0.5))):
        got_np = np_engine.decode_tensors(z, temperature, u, controls)
        _assert_same_samples(spec, got_np, tf_engine.decode_tensors(z, temperature, u, controls))
        _assert_valid(spec, got_np)
    tf_engine.close()
