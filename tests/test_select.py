"""The probe's ridge regression (scikit-learn) is the closed form it replaced, to float precision."""

from __future__ import annotations

import numpy as np

from muse_cli.prompt.select import FEATURES
from muse_cli.training.prompt_head import PROBE_RIDGE as RIDGE
from muse_cli.training.prompt_head import probe_from


def test_probe_fit_matches_the_closed_form_ridge():
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((40, 12))
    feats = {k: rng.standard_normal(300) for k in FEATURES}
    match = [rng.choice(300, size=int(rng.integers(0, 20)), replace=False) for _ in range(40)]
    probe = probe_from(emb, feats, match)
    f = np.stack([feats[k] for k in FEATURES], 1)
    fz = (f - f.mean(0)) / np.maximum(f.std(0), 1e-3)
    keep = [c for c, m in enumerate(match) if len(m)]
    y = np.stack([fz[match[c]].mean(0) for c in keep])
    x = emb[keep]
    xc = x - x.mean(0)
    w = np.linalg.solve(xc.T @ xc + RIDGE * len(keep) * np.eye(12) / 100.0, xc.T @ (y - y.mean(0)))
    b = y.mean(0) - x.mean(0) @ w
    np.testing.assert_allclose(probe.weights, w, atol=1e-5)
    np.testing.assert_allclose(probe.bias, b, atol=1e-5)
    np.testing.assert_allclose(probe.predict(x), x @ w + b, atol=1e-5)


def test_latent_directions_recover_a_known_linear_map_and_steer_along_it(tmp_path):
    from muse_cli.prompt.select import FeatureProbe
    from muse_cli.training.prompt_head import latent_directions

    rng = np.random.default_rng(1)
    feats = {k: rng.standard_normal(4000) * (1 + i) + i for i, k in enumerate(FEATURES)}
    probe = probe_from(rng.standard_normal((30, 8)), feats, [rng.choice(4000, 50) for _ in range(30)])
    true = rng.standard_normal((len(FEATURES), 5))  # latent move per standardized unit of each feature
    fz = (np.stack([feats[k] for k in FEATURES], 1) - probe.feat_mean) / probe.feat_std
    mu = fz @ true + 0.01 * rng.standard_normal((4000, 5))
    probe.directions = latent_directions(mu, feats, probe)
    np.testing.assert_allclose(probe.directions, true, atol=0.01)
    prompt = probe.reference + np.eye(len(FEATURES))[:2]  # one unit more of the first, then the second feature
    from muse_cli.prompt.select import STEERING_GAIN

    gain = np.array([STEERING_GAIN.get(k, 1.0) for k in FEATURES])[:2, None]
    np.testing.assert_allclose(probe.steering(prompt), gain * true[:2], atol=0.1)
    (tmp_path / "probe.npz").write_bytes(probe.to_bytes())
    back = FeatureProbe.load(tmp_path)
    np.testing.assert_array_equal(back.directions, probe.directions)
    probe.directions = None  # a probe fitted before directions existed steers nothing
    (tmp_path / "probe.npz").write_bytes(probe.to_bytes())
    assert FeatureProbe.load(tmp_path).steering(prompt) is None
