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
