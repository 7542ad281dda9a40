"""Prompt adherence: do melodies made from opposite prompts differ the way the words say?

For each attribute pair (major vs minor, high vs low, busy vs sparse, rising vs falling,
stepwise vs leaping, Irish reel vs German folk song) melodies are generated from held-out
paraphrases of each pole (wordings the head never saw: captions.render(..., 'heldout')),
the attribute is measured on the generated notes (mean over each melody's 2-bar windows), and the
pairwise accuracy is the share of (A, B) pairs ordered the right way (ties count 0.5). Prior
samples, split in two halves, give the unconditioned baseline (0.5 expected). Style is judged by a logistic regression
trained here on corpus windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from muse_cli.encoding import WINDOW_STEPS

TARGET_MEAN, TARGET_EACH = 0.90, 0.80
PLAUSIBLE_MAX_NOTES = 32  # with select.MIN_NOTES: a usable melody (the default model's test of its samples)
PROMPTS_PER_POLE = 4


@dataclass(frozen=True)
class Pair:
    name: str
    measure: str  # a feature name (muse_cli.features.NAMES), or "style"
    a: dict  # labels of pole A (expected higher measure)
    b: dict
    a_name: str
    b_name: str


PAIRS = (
    Pair("mode", "major_minus_minor", {"mode": "major"}, {"mode": "minor"}, "major", "minor"),
    Pair("register", "mean_pitch", {"register": "high"}, {"register": "low"}, "high", "low"),
    Pair("density", "density", {"density": "busy"}, {"density": "sparse"}, "busy", "sparse"),
    Pair("contour", "slope", {"contour": "rising"}, {"contour": "falling"}, "rising", "falling"),
    Pair("motion", "stepwise", {"motion": "stepwise"}, {"motion": "leaping"}, "stepwise", "leaping"),
    Pair("style", "style", {"source": "irish", "type": "reel"}, {"source": "german"}, "Irish reel", "German folk song"),
)


def heldout_prompts(labels: dict, k: int = PROMPTS_PER_POLE, seed: int = 0) -> list[str]:
    """``k`` distinct held-out paraphrases naming ``labels``."""
    from muse_cli.training.captions import render

    rng = np.random.default_rng([seed, 5])
    out: list[str] = []
    for _ in range(200):
        text = render(labels, rng, "heldout")
        if text not in out:
            out.append(text)
        if len(out) == k:
            break
    return out


def pairwise_accuracy(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pairs (x in a, y in b) with x > y; ties count one half."""
    a = np.asarray(a, float)[:, None]
    b = np.asarray(b, float)[None, :]
    return float(np.mean((a > b) + 0.5 * (a == b)))


# -- the style classifier ----------------------------------------------------------
def rhythm_features(events: np.ndarray) -> np.ndarray:
    """[n, 4]: share of onsets off the eighth-note grid, of 2-step notes, of long (>= 4 step) notes,
    of repeated pitches."""
    from muse_cli.midi import events_to_notes

    out = np.zeros((len(events), 4))
    for i, ev in enumerate(events):
        notes = events_to_notes(ev)
        if not notes:
            continue
        starts = np.array([n[1] for n in notes])
        durs = np.array([n[2] - n[1] for n in notes])
        pitches = np.array([n[0] for n in notes])
        out[i] = [
            np.mean(starts % 2 == 1),
            np.mean(durs == 2),
            np.mean(durs >= 4),
            np.mean(np.diff(pitches) == 0) if len(pitches) > 1 else 0.0,
        ]
    return out


STYLE_FEATURES = (
    "pitch_range",
    "note_count",
    "mean_pitch",
    "density",
    "slope",
    "stepwise",
    "major_minus_minor",
    "arch",
)


def style_matrix(events: np.ndarray) -> np.ndarray:
    from muse_cli.features import measure

    rows = measure(events)
    base = np.array([[r[k] for k in STYLE_FEATURES] for r in rows], float).reshape(len(events), -1)
    return np.concatenate([base, rhythm_features(events)], axis=1)


@dataclass
class StyleClassifier:
    """Logistic regression on standardised window features; score = P(pole A)."""

    mean: np.ndarray
    std: np.ndarray
    w: np.ndarray
    b: float
    valid_accuracy: float = float("nan")

    def score_matrix(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.std
        return 1.0 / (1.0 + np.exp(-(z @ self.w + self.b)))

    def score(self, events: np.ndarray) -> np.ndarray:
        return self.score_matrix(style_matrix(events))


def _is_pole(labels: dict, pole: dict) -> bool:
    return all(labels.get(k) == v for k, v in pole.items())


def train_style_classifier(
    tunes: list[dict], pair: Pair, max_windows: int = 12000, seed: int = 0, iters: int = 600, l2: float = 1e-3
) -> StyleClassifier:
    """Fit on train-split windows of pole A vs pole B; report accuracy on valid+test tunes."""
    from muse_cli.training.captions import collect_windows

    def data(splits):
        win = collect_windows(tunes, max_windows, seed=seed, splits=splits)
        ya = np.array([_is_pole(lab, pair.a) for lab in win.labels])
        yb = np.array([_is_pole(lab, pair.b) for lab in win.labels])
        keep = ya | yb
        return style_matrix(win.events[keep]), ya[keep].astype(float)

    x, y = data(("train",))
    mean, std = x.mean(0), x.std(0) + 1e-6
    from sklearn.linear_model import LogisticRegression

    # balanced classes; mean log-loss + l2/2 |w|^2, which is scikit-learn's C = 1 / (l2 * n)
    fit = LogisticRegression(C=1.0 / (l2 * len(y)), class_weight="balanced", max_iter=iters)
    fit.fit((x - mean) / std, y > 0.5)
    w, b = fit.coef_[0], float(fit.intercept_[0])
    clf = StyleClassifier(mean, std, w, b)
    xv, yv = data(("valid", "test"))
    if len(yv):
        clf.valid_accuracy = float(np.mean((clf.score_matrix(xv) > 0.5) == (yv > 0.5)))
    return clf


# -- evaluation -------------------------------------------------------------------------
def _measure(pair: Pair, events: np.ndarray, clf: StyleClassifier | None) -> np.ndarray:
    """The pair's measure of each melody: the mean over its 2-bar windows."""
    from muse_cli.features import measure

    n = len(events)
    windows = np.asarray(events).reshape(-1, WINDOW_STEPS)
    if pair.measure == "style":
        values = clf.score(windows)
    else:
        values = np.array([r[pair.measure] for r in measure(windows)])
    return values.reshape(n, -1).mean(1)


def evaluate_prompts(
    model,
    n_per_pole: int = 32,
    seed: int = 0,
    temperature: float = 1.0,
    tunes=None,
    pairs=PAIRS,
    log=None,
    guidance: float | None = None,
    segments: int = 1,
    candidates: int | None = None,
) -> dict:
    """Pairwise accuracy of every attribute pair, with the prior baseline beside it.

    Generates ``n_per_pole`` melodies of ``segments`` 2-bar windows per pole (long form: a
    path inside the prompt's region, as ``muse sample --prompt --seconds``), spread over
    PROMPTS_PER_POLE held-out paraphrases, and ``2 * n_per_pole`` prior melodies of the same
    length. Each melody's measure is the mean over its windows. ``candidates`` is the feature-guided
    choice's count, as in ``muse sample --prompt`` (1: the head alone). Returns a dict (see format_report).
    """
    from muse_cli.prompt.api import GUIDANCE, decode_prompted, prompt_guides
    from muse_cli.prompt.select import CANDIDATES
    from muse_cli.training.prompt_head import load_corpus

    candidates = CANDIDATES if candidates is None else max(1, int(candidates))

    say = log or (lambda msg: None)
    guidance = GUIDANCE if guidance is None else guidance
    prompts = [
        (pair, pole, heldout_prompts(labels, seed=seed))
        for pair in pairs
        for pole, labels in (("a", pair.a), ("b", pair.b))
    ]
    flat = [p for _, _, ps in prompts for p in ps]
    say(f"prompt regions for {len(flat)} held-out prompts...")
    guides = prompt_guides(model, flat, guidance=guidance)
    rows, seeds, owner = _prompted_rows(prompts, n_per_pole, seed)
    k = candidates if guides.probe is not None else 1
    say(f"decoding {len(rows)} prompted melodies of {segments} windows (best of {k} candidates each)...")
    events = np.stack(decode_prompted(model, guides, rows, seeds, segments, temperature, k))
    say(f"decoding {2 * n_per_pole} prior melodies...")
    prior = _prior_melodies(model, 2 * n_per_pole, seed + 1, segments, temperature)
    clf = None
    if any(p.measure == "style" for p in pairs):
        say("training the style classifier on corpus windows...")
        corpus = tunes if isinstance(tunes, list) else load_corpus(tunes)
        clf = train_style_classifier(corpus, next(p for p in pairs if p.measure == "style"), seed=seed)
    results = _pair_results(prompts, events, np.array(owner), prior, clf, n_per_pole)
    run = {"checkpoint": model.name, "n_per_pole": n_per_pole, "seed": seed, "temperature": temperature}
    run.update(guidance=guidance, segments=segments, candidates=k)
    out = {**run, **_verdict(results), "plausible": _plausible(events, prior)}
    if clf is not None:
        out["style_classifier_accuracy"] = clf.valid_accuracy
    return out


def _verdict(results: list[dict]) -> dict:
    """The pairs, their mean and lowest accuracy, and whether they meet the targets."""
    acc = [r["accuracy"] for r in results]
    return {
        "pairs": results,
        "mean_accuracy": float(np.mean(acc)),
        "mean_baseline": float(np.mean([r["baseline"] for r in results])),
        "min_accuracy": float(np.min(acc)),
        "target": {"mean": TARGET_MEAN, "each": TARGET_EACH},
        "passed": bool(np.mean(acc) >= TARGET_MEAN and np.min(acc) >= TARGET_EACH),
    }


def _prior_melodies(model, n: int, seed: int, segments: int, temperature: float) -> np.ndarray:
    """``n`` unprompted melodies of ``segments`` windows: the baseline (the recipe of `muse sample`)."""
    from muse_cli.paths import decode_paths, latent_path

    paths = [latent_path(seed, i, segments, model.z_size) for i in range(n)]
    return np.stack(decode_paths(model, paths, [(seed, i) for i in range(n)], temperature))


def _prompted_rows(prompts: list, n_per_pole: int, seed: int) -> tuple[list[int], list[tuple], list[int]]:
    """For each prompted melody: its prompt's row among all prompts, its seed, and its pole's index."""
    rows, seeds, owner = [], [], []
    row = 0
    for j, (_pair, _pole, ps) in enumerate(prompts):
        for i in range(n_per_pole):
            rows.append(row + i % len(ps))
            seeds.append((seed, j * n_per_pole + i))
            owner.append(j)
        row += len(ps)
    return rows, seeds, owner


def _pair_results(prompts: list, events: np.ndarray, owner: np.ndarray, prior: np.ndarray, clf, n: int) -> list:
    """Each pair's accuracy (pole A's melodies against pole B's) beside the prior's halves as a baseline."""
    results = []
    for j in range(0, len(prompts), 2):
        pair = prompts[j][0]
        va = _measure(pair, events[owner == j], clf)
        vb = _measure(pair, events[owner == j + 1], clf)
        vp = _measure(pair, prior, clf)
        results.append(
            {
                "name": pair.name,
                "measure": pair.measure,
                "a": pair.a_name,
                "b": pair.b_name,
                "prompts_a": prompts[j][2],
                "prompts_b": prompts[j + 1][2],
                "accuracy": pairwise_accuracy(va, vb),
                "baseline": pairwise_accuracy(vp[:n], vp[n:]),
                "mean_a": float(np.mean(va)),
                "mean_b": float(np.mean(vb)),
                "mean_prior": float(np.mean(vp)),
            }
        )
    return results


def _plausible(events: np.ndarray, prior: np.ndarray) -> dict:
    """How many prompted (and prior) melodies have a usable number of notes per 2 bars."""
    from muse_cli.prompt.select import MIN_NOTES, onsets_per_window

    lo, hi = MIN_NOTES, PLAUSIBLE_MAX_NOTES
    counts = np.array([onsets_per_window(ev).mean() for ev in events])
    return {
        "notes_per_2_bars": [lo, hi],
        "share": float(np.mean((counts >= lo) & (counts <= hi))),
        "share_prior": float(np.mean([lo <= onsets_per_window(ev).mean() <= hi for ev in prior])),
        "min": float(counts.min()),
        "mean": float(counts.mean()),
    }


def format_report(result: dict) -> str:
    """A plain-text table of :func:`evaluate_prompts`' result."""
    lines = [
        f"prompt adherence, checkpoint {result['checkpoint']}: {result['n_per_pole']} melodies per pole of "
        f"{result['segments']} 2-bar windows, temperature {result['temperature']:g}, guidance "
        f"{result['guidance']:g}, best of {result.get('candidates', 1)} candidates, seed {result['seed']}",
        f"{'pair':<10} {'A vs B':<30} {'measure':<18} {'accuracy':>8} {'prior':>6}  mean A / B",
    ]
    for r in result["pairs"]:
        lines.append(
            f"{r['name']:<10} {r['a'] + ' vs ' + r['b']:<30} {r['measure']:<18} {r['accuracy']:>8.3f} "
            f"{r['baseline']:>6.3f}  {r['mean_a']:.2f} / {r['mean_b']:.2f}"
        )
    verdict = "meets" if result["passed"] else "misses"
    lines.append(
        f"{'mean':<10} {'':<30} {'':<18} {result['mean_accuracy']:>8.3f} {result['mean_baseline']:>6.3f}  "
        f"({verdict} the target: mean >= {result['target']['mean']:.2f}, each >= "
        f"{result['target']['each']:.2f})"
    )
    if "plausible" in result:
        p = result["plausible"]
        lines.append(
            f"melodies with {p['notes_per_2_bars'][0]} to {p['notes_per_2_bars'][1]} notes per 2 bars: "
            f"{p['share']:.3f} (prior {p['share_prior']:.3f}); notes per 2 bars: mean {p['mean']:.1f}, "
            f"fewest {p['min']:g}"
        )
    if "style_classifier_accuracy" in result:
        lines.append(f"style classifier accuracy on held-out corpus windows: {result['style_classifier_accuracy']:.3f}")
    for r in result["pairs"]:
        lines.append(f"  {r['name']}: A prompts {r['prompts_a']}; B prompts {r['prompts_b']}")
    return "\n".join(lines)
