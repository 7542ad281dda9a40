"""Fit the conductor (:mod:`muse_cli.conductor`) on the corpus's duple-meter tunes; ship it beside the checkpoint.

    python -m muse_cli.training.conductor [--tunes build/corpus/tunes.json.gz] [-c CHECKPOINT] [-o FILE] [--force]

Every number is fitted on the training split (:mod:`muse_cli.training.conductor_data` makes and caches the
data: the slow part, so a second run only fits, in well under a minute):

* first window: a Gaussian (mean, full covariance) per mode of the tunes' first latents;
* new material: ridge regression of each new window's latent on :func:`muse_cli.conductor.ar_inputs`,
  its residuals' full covariance;
* varied returns: the covariance of (latent - latent of the window it returns to), scaled so that decoded
  variations of validation windows (with the source's decoder noise) most often come back close but not exact;
* the choice: a conditional logit over "new" and every earlier window (:func:`option_features`), fitted
  by L-BFGS on the marginal likelihood of the windows each real window returns to; exact vs varied: a
  logistic regression (:func:`exact_features`).

The validation split picks the ridge and the covariance shrinkage, and its negative log-likelihoods are
printed and stored beside baselines: today's AR(1) walk in prior space, one Gaussian for all windows,
and a choice model that knows only how often real tunes return.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from muse_cli.conductor import EXACT_FEATURES, MODES, ar_inputs, exact_features, option_features, path_for, to_bytes
from muse_cli.training.conductor_data import BUILD, build_data, plan_of, tunes_of

SHRINKS = (1e-4, 1e-3, 1e-2, 1e-1)  # covariance + s * mean variance * I, picked on validation
RIDGES = (0.01, 0.1, 1.0, 10.0, 100.0)
VARIATIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)  # scales of the varied return's covariance tried
VARIATION_WINDOWS = 400
# The spread of every latent draw at temperature 1, relative to the fitted covariances: picked on the
# validation tunes by bench/bench_conductor.py --split valid --latent-scales 1,0.7,0.5,0.35 (README).
LATENT_SCALE = 1.0
L2 = 1e-3  # on the choice weights, per example


def gaussian(x: np.ndarray, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, Cholesky factor of the shrunk covariance) of rows ``x``."""
    mean = x.mean(0)
    cov = np.cov(x - mean, rowvar=False) if len(x) > 1 else np.eye(x.shape[1])
    cov = cov + shrink * np.trace(cov) / len(cov) * np.eye(len(cov))
    return mean, np.linalg.cholesky(cov)


def nll(resid: np.ndarray, chol: np.ndarray) -> float:
    """Mean negative log-likelihood (nats per window) of residual rows under N(0, chol chol^T)."""
    solved = np.linalg.solve(chol, resid.T)
    d = chol.shape[0]
    return float(0.5 * (solved**2).sum(0).mean() + np.log(np.diag(chol)).sum() + 0.5 * d * math.log(2 * math.pi))


def ar_rows(tunes: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of every new window after the first."""
    xs, ys = [], []
    for t in tunes:
        for k in range(1, len(t["z"])):
            if t["kind"][k] == 0:
                xs.append(ar_inputs(t["z"][:k], t["mode"], t["ends"] and k == len(t["z"]) - 1))
                ys.append(t["z"][k])
    return np.array(xs), np.array(ys)


def varied_rows(tunes: list[dict]) -> np.ndarray:
    return np.array([t["z"][k] - t["z"][j] for t in tunes for k, (kd, j) in enumerate(plan_of(t)) if kd == "varied"])


def choice_rows(tunes: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features of every option [R, F], first row of each decision, whether each option is right [R])."""
    xs, starts, target, at = [], [], [], 0
    for t in tunes:
        plan = plan_of(t)
        for k in range(1, len(t["z"])):
            cand, new = option_features(k, plan)
            xs.extend([cand, new[None]])
            target.extend(list(t["pos"][k, :k]) + [t["kind"][k] == 0])
            starts.append(at)
            at += k + 1
    return np.concatenate(xs), np.array(starts), np.array(target, bool)


def choice_loss(w: np.ndarray, x: np.ndarray, starts: np.ndarray, target: np.ndarray, l2: float = 0.0):
    """(mean negative log marginal likelihood per decision, gradient) of the conditional logit."""
    s = x @ w
    top = np.maximum.reduceat(s, starts)
    group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(s))))
    e = np.exp(s - top[group])
    p = e / np.add.reduceat(e, starts)[group]
    right = np.add.reduceat(p * target, starts)
    q = p * target / right[group]
    loss = -np.log(right).mean() + 0.5 * l2 * w @ w
    grad = x.T @ (p - q) / len(starts) + l2 * w
    return float(loss), grad


def exact_rows(tunes: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for t in tunes:
        plan = plan_of(t)
        for k, (kd, j) in enumerate(plan):
            if kd != "new":
                xs.append(exact_features(k, j, plan))
                ys.append(kd == "exact")
    return np.array(xs).reshape(-1, EXACT_FEATURES), np.array(ys, float)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    from scipy.optimize import minimize

    def loss(w):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        eps = 1e-12
        val = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + 0.5 * l2 * w @ w
        return val, x.T @ (p - y) / len(y) + l2 * w

    return minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B").x


def fit_ar(train: list[dict], valid: list[dict], report: dict) -> tuple[np.ndarray, np.ndarray]:
    """(weights, residual Cholesky) of new material, ridge and shrinkage picked on validation."""
    x, y = ar_rows(train)
    vx, vy = ar_rows(valid)
    best = None
    for ridge in RIDGES:
        reg = ridge * np.eye(x.shape[1])
        reg[-3, -3] = 0.0  # the intercept is not shrunk
        w = np.linalg.solve(x.T @ x + reg, x.T @ y)
        for shrink in SHRINKS:
            _, chol = gaussian(y - x @ w, shrink)
            score = nll(vy - vx @ w, chol)
            if best is None or score < best[0]:
                best = (score, ridge, shrink, w, chol)
    score, ridge, shrink, w, chol = best
    _, one = gaussian(y, shrink)
    rho = 0.85
    walk = nll(vy - rho * vx[:, : y.shape[1]], math.sqrt(1 - rho * rho) * np.eye(y.shape[1]))
    report["new_material_nll_per_window"] = {
        "conductor": round(score, 1),
        "one_gaussian": round(nll(vy - y.mean(0), one), 1),
        "ar1_walk_rho_0.85": round(walk, 1),
        "ridge": ridge,
        "shrink": shrink,
        "train_rows": len(x),
        "valid_rows": len(vx),
    }
    return w, chol


def fit_choice(train: list[dict], valid: list[dict], report: dict) -> np.ndarray:
    from scipy.optimize import minimize

    x, starts, target = choice_rows(train)
    w = minimize(choice_loss, np.zeros(x.shape[1]), args=(x, starts, target, L2), jac=True, method="L-BFGS-B").x
    vx, vs, vt = choice_rows(valid)
    new_share = float(np.mean([t["kind"][k] == 0 for t in train for k in range(1, len(t["z"]))]))
    base = vx @ np.zeros(x.shape[1])  # a baseline: P(new) = the training share, the rest spread evenly
    sizes = np.diff(np.append(vs, len(vx)))
    is_new = np.zeros(len(vx), bool)
    is_new[vs + sizes - 1] = True
    group = np.repeat(np.arange(len(vs)), sizes)
    p = np.where(is_new, new_share, (1 - new_share) / np.maximum(sizes - 1, 1)[group]) + 0 * base
    base_nll = float(-np.log(np.add.reduceat(p * vt, vs)).mean())
    report["choice_nll_per_window"] = {
        "conductor": round(choice_loss(w, vx, vs, vt)[0], 4),
        "return_rate_only": round(base_nll, 4),
        "train_decisions": len(starts),
        "valid_decisions": len(vs),
        "train_new_share": round(new_share, 4),
    }
    return w


def variation_scale(model, valid: list[dict], chol: np.ndarray, report: dict) -> float:
    """The scale of the varied return's covariance whose decoded variations (same decoder noise, scale mask)
    of validation windows most often come back close but not exact (the issue's measure of a close return)."""
    from muse_cli.conductor import scale_classes
    from muse_cli.features import onset_jaccard, pitch_class_cosine
    from muse_cli.midi import events_to_notes

    z = np.concatenate([t["z"] for t in valid])[:VARIATION_WINDOWS]
    eps = np.random.default_rng(0).standard_normal(z.shape)
    seeds = [(0, 11, i) for i in range(len(z))]
    base = model.decode_events(z, 1.0, seeds, allowed=scale_classes())
    rates = {}
    for scale in VARIATIONS:
        varied = model.decode_events(z + scale * eps @ chol.T, 1.0, seeds, allowed=scale_classes())
        close = exact = 0
        for a, b in zip(base, varied):
            na, nb = events_to_notes(a), events_to_notes(b)
            exact += bool(np.array_equal(a, b))
            close += pitch_class_cosine(na, nb) >= 0.9 and onset_jaccard(na, nb) >= 0.8
        rates[scale] = (close - exact) / len(z)
    report["varied_return_close_not_exact"] = {str(k): round(v, 3) for k, v in rates.items()}
    return max(rates, key=rates.get)


def fit(data: dict, model) -> tuple[dict, dict]:
    """The conductor's arrays and a report of validation likelihoods."""
    train, valid = tunes_of(data, 0), tunes_of(data, 1)
    report: dict = {"train_tunes": len(train), "valid_tunes": len(valid)}
    shrink = SHRINKS[1]
    firsts = [gaussian(np.array([t["z"][0] for t in train if t["mode"] == m]), shrink) for m in MODES]
    ar_weight, ar_chol = fit_ar(train, valid, report)
    _, var_chol = gaussian(np.concatenate([varied_rows(train), -varied_rows(train)]), shrink)
    var_chol = var_chol * variation_scale(model, valid, var_chol, report)
    choice_w = fit_choice(train, valid, report)
    ex, ey = exact_rows(train)
    exact_w = fit_logistic(ex, ey)
    arrays = {
        "first_mean": np.stack([f[0] for f in firsts]),
        "first_chol": np.stack([f[1] for f in firsts]),
        "ar_weight": ar_weight,
        "ar_chol": ar_chol,
        "var_chol": var_chol,
        "choice_w": choice_w,
        "exact_w": exact_w,
    }
    tr = data["split"] == 0
    report["minor_share"] = round(float(data["minor"][tr].mean()), 4)
    report["tonics"] = {
        m: np.bincount(data["tonic"][tr & (data["minor"] == (m == "minor"))], minlength=12).tolist() for m in MODES
    }
    return arrays, report


def main(argv: list[str] | None = None) -> None:
    from muse_cli.cache import checkpoint_identity
    from muse_cli.model import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tunes", type=Path, default=Path("build/corpus/tunes.json.gz"))
    ap.add_argument("-c", "--checkpoint", default=None)
    ap.add_argument("-o", "--out", type=Path, default=None)
    ap.add_argument("--build", type=Path, default=BUILD)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--latent-scale", type=float, default=LATENT_SCALE, help="spread of latent draws at temperature 1")
    args = ap.parse_args(argv)
    model = load_model(args.checkpoint)
    out = args.out or path_for(model.checkpoint)
    if out.exists() and not args.force:
        sys.exit(f"{out} exists; give --force to replace it")
    data = build_data(args.tunes, model, args.build)
    arrays, report = fit(data, model)
    meta = {
        "checkpoint": model.name,
        "checkpoint_sha256": checkpoint_identity(model.checkpoint),
        "method": "conditional-logit returns + ridge-Gaussian new material over encoder means, C major / A minor",
        "minor_share": report["minor_share"],
        "latent_scale": args.latent_scale,
        "tonics": report["tonics"],
        "report": report,
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(to_bytes(arrays, meta))
    tmp.replace(out)
    print(json.dumps(report, indent=1), file=sys.stderr)
    print(f"wrote {out} ({out.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
