"""What the CLI calls for text prompts: find a checkpoint's head, turn a prompt into a region
of latent space, and sample or decode melodies inside it.

Randomness follows :mod:`muse_cli.model`: melody ``i`` of seed ``s`` walks
``walk_around(mean, sigma, s, i, ...)`` (latents from ``default_rng([s, i, 0])``) and
decodes with noise ``(s, i, 1, k)``; so the same prompt and seed give the same notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muse_cli.errors import PromptError

_HEADS: dict[tuple, object] = {}


def head_path(model) -> Path:
    """Where ``model``'s prompt head lives: ``prompt_head/`` in its checkpoint directory."""
    from muse_cli.prompt.head import head_dir

    return head_dir(model.checkpoint)


def load_head(model, directory: Path | None = None):
    """The prompt head trained for ``model``'s checkpoint (cached); PromptError if none or another's."""
    from muse_cli.cache import checkpoint_identity
    from muse_cli.prompt.head import META, PromptHead

    directory = Path(directory) if directory else head_path(model)
    fit_hint = f"muse fit-prompt --checkpoint {model.name if directory == head_path(model) else model.checkpoint}"
    if not (directory / META).exists():
        raise PromptError(
            f"checkpoint {model.name} has no prompt head ({directory} is missing); train one with: {fit_hint}"
        )
    key = (str(directory.resolve()), (directory / META).stat().st_mtime_ns, str(Path(model.checkpoint).resolve()))
    if key not in _HEADS:
        head = PromptHead.load(directory)
        identity = checkpoint_identity(model.checkpoint)
        if head.checkpoint_sha256 != identity:
            raise PromptError(
                f"the prompt head in {directory} was trained for another checkpoint "
                f"(sha256 {head.checkpoint_sha256[:12]}, this one is {identity[:12]}); "
                f"train one for it with: {fit_hint}"
            )
        if head.z_size != model.z_size:
            raise PromptError(
                f"the prompt head in {directory} has z size {head.z_size}, checkpoint "
                f"{model.name} has {model.z_size}; run: {fit_hint}"
            )
        _HEADS[key] = head
    return _HEADS[key]


# How far a prompt's mean is pushed away from the neutral prompt's (1 = not at all). Measured with
# `muse eval --prompts --guidance G` on the head of the retrained encoder: 1.0, 1.25, 1.5 and 2.0 gave 0.874,
# 0.867, 0.861 and 0.873 mean adherence; at 1.5 "a slow sad tune in A minor" decoded to 2 or 3 notes per
# 2 bars at the region's centre, at 1.0 to 4 or 5.
GUIDANCE = 1.0
NEUTRAL = "a melody"


@dataclass
class Guides:
    """What prompts say, per prompt: the latent region (mean, sigma, [n, z]) and, when the head has a
    feature probe, the predicted standardized features [n, f] beside the probe's reference [f]."""

    mean: np.ndarray
    sigma: np.ndarray
    guidance: float
    probe: object = None
    features: np.ndarray | None = None
    neutral: np.ndarray | None = None


def prompt_guides(model, texts: list[str], guidance: float | None = None) -> Guides:
    """Each prompt's region and feature targets. Loads the text encoder on first use.

    With ``guidance`` g != 1 the mean becomes ``neutral + g * (mean - neutral)``, where neutral
    is the region of "a melody" (as classifier-free guidance does for diffusion models).
    """
    from muse_cli.prompt.select import pooled
    from muse_cli.prompt.text import check_prompt, embed_prompts

    texts = [check_prompt(t) for t in texts]
    g = GUIDANCE if guidance is None else float(guidance)
    head = load_head(model)  # before the text encoder: a missing head fails fast
    h, mask = embed_prompts(texts + [NEUTRAL])
    mean, sigma = head.region(h, mask)
    if g != 1.0:
        mean = (mean[-1] + g * (mean[:-1] - mean[-1])).astype(np.float32)
    else:
        mean = mean[:-1]
    guides = Guides(mean, sigma[:-1], g)
    if head.probe is not None:
        feats = head.probe.predict(pooled(h[:-1], mask[:-1]))
        guides.probe, guides.features, guides.neutral = head.probe, feats, head.probe.reference
    return guides


def prompt_regions(model, texts: list[str], guidance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean [n, z], sigma [n, z]) of each prompt's region (see :func:`prompt_guides`)."""
    guides = prompt_guides(model, texts, guidance)
    return guides.mean, guides.sigma


def decode_prompted(
    model,
    guides: Guides,
    rows: list[int],
    seeds: list[tuple[int, int]],
    segments: int,
    temperature: float,
    candidates: int | None = None,
    form: str | None = None,
    key=None,
) -> list[np.ndarray]:
    """Events of one melody per (prompt row, (seed, index)): a path inside that prompt's region (shaped by ``form``).

    With a feature probe, ``candidates`` paths are drawn for each melody (candidate 0 is the path
    drawn without a probe) and the one whose measured features fit the prompt best is kept
    (:mod:`muse_cli.prompt.select`). All candidates decode in shared batches. With a ``key``
    (:class:`muse_cli.prompt.words.Key`) the choice prefers candidates that fit its scale and the
    melody is transposed to it (:mod:`muse_cli.prompt.tonality`).
    """
    from muse_cli.form import walk_around
    from muse_cli.paths import decode_paths
    from muse_cli.prompt.select import CANDIDATES

    k = (CANDIDATES if candidates is None else int(candidates)) if guides.probe is not None else 1
    k = max(1, k)
    paths, noise = [], []
    for r, (s, i) in zip(rows, seeds):
        for c in range(k):
            paths.append(
                walk_around(guides.mean[r], guides.sigma[r], s, i, segments, temperature, candidate=c, form=form)
            )
            noise.append((s, i) + ((c,) if c else ()))
    events = decode_paths(model, paths, noise, temperature)
    if k > 1:
        events = [_choose(guides, r, events[m * k : (m + 1) * k], key) for m, r in enumerate(rows)]
    if key is None:
        return events
    from muse_cli.prompt.tonality import to_key

    return [to_key(ev, key)[0] for ev in events]


def _choose(guides: Guides, row: int, group: list[np.ndarray], key) -> np.ndarray:
    """The candidate whose features fit prompt ``row`` best, never a near-empty one by choice. With a
    ``key``, among those whose best transposition has tonality.KEY_FIT of their note time in its scale
    and, of those, the ones whose estimated tonic is the key's where any is (if none fits, the one with
    the most note time in the scale)."""
    from muse_cli.prompt.select import TARGET_GUIDANCE, melody_features, plausible

    f = guides.probe.standardize([melody_features(ev) for ev in group])
    scores = guides.probe.scores(guides.features[row], guides.neutral, f, TARGET_GUIDANCE)
    scores[~np.array([plausible(ev) for ev in group])] = -np.inf
    if key is not None and np.isfinite(scores).any():
        from muse_cli.prompt.tonality import KEY_FIT, key_fits

        shares, tonic = key_fits(group, key)
        fits = np.isfinite(scores) & (shares >= KEY_FIT)
        fits = fits & tonic if (fits & tonic).any() else fits
        scores = np.where(fits, scores, -np.inf) if fits.any() else np.where(np.isfinite(scores), shares, -np.inf)
    return group[int(np.argmax(scores))] if np.isfinite(scores).any() else group[0]


def prompt_tempo(text: str, qpm: float | None = None) -> float:
    """The tempo to write: ``qpm`` when given, else the prompt's tempo words, else 120 (PromptError for a
    named tempo outside settings.MIN_QPM..MAX_QPM)."""
    from muse_cli.prompt.words import read_tempo

    tempo = read_tempo(text)
    return float(qpm) if qpm is not None else (tempo.qpm if tempo else 120.0)


def _said(text: str, qpm: float | None) -> tuple:
    """(key or None, tempo to write, provenance of the words applied) for a prompt and an explicit qpm or None."""
    from muse_cli.prompt.words import read_words

    words = read_words(text)
    said = {"key": words.key.name} if words.key else {}
    if qpm is None and words.tempo:
        said["tempo_words"] = words.tempo.said
    return words.key, prompt_tempo(text, qpm), said


def applied(items: list) -> str | None:
    """One line on what the prompt's key and tempo words did to these melodies (None if nothing)."""
    prov = items[0].provenance
    parts = []
    if "key" in prov:
        out = sum(g.provenance.get("out_of_key_notes", 0) for g in items)
        parts.append(f"key {prov['key']}" + (f" ({out} notes outside its scale)" if out else ""))
    if "tempo_words" in prov:
        parts.append(f"tempo {prov['qpm']:g} qpm from {prov['tempo_words']!r}")
    return "prompt: " + ", ".join(parts) if parts else None


def _keyed(item, key):
    """A Generated with the count of its written notes outside ``key``'s scale in its provenance."""
    if key is None:
        return item
    from dataclasses import replace

    from muse_cli.midi import written_notes
    from muse_cli.prompt.tonality import out_of_scale

    out = out_of_scale(written_notes(item.notes, item.qpm, item.seconds), key)
    return replace(item, provenance={**item.provenance, "out_of_key_notes": out})


def _head_id(model) -> str:
    return load_head(model).checkpoint_sha256[:12]


def sample_with_prompt(
    model,
    text: str,
    n: int = 1,
    seconds: float | None = None,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float | None = None,
    first_index: int = 0,
    guidance: float | None = None,
    candidates: int | None = None,
    form: str | None = None,
) -> list:
    """``n`` melodies from the prompt's region, z ~ N(mean, (temperature * sigma)^2).

    With ``seconds`` each melody walks a smooth path inside the region (model.walk_around), shaped by
    ``form`` (such as "AABA", :mod:`muse_cli.form`).
    Where the head has a feature probe, each melody is the best of ``candidates`` (default
    select.CANDIDATES) draws; ``candidates=1`` turns the choice off. A key the prompt names is kept
    (see :func:`decode_prompted`); its tempo words set the tempo unless ``qpm`` is given.
    Returns a list of :class:`muse_cli.model.Generated` with the prompt in their provenance.
    """
    from muse_cli.form import check_form
    from muse_cli.model import new_seed, sampled, segments_for

    seed = new_seed() if seed is None else int(seed)
    key, qpm, words = _said(text, qpm)
    form = check_form(form, seconds, qpm)
    guides = prompt_guides(model, [text], guidance)
    segments = segments_for(seconds, qpm)
    idx = range(first_index, first_index + n)
    seeds = [(seed, i) for i in idx]
    events = decode_prompted(model, guides, [0] * n, seeds, segments, temperature, candidates, form, key=key)
    said = {
        "prompt": text.strip(),
        "prompt_head": _head_id(model),
        "guidance": GUIDANCE if guidance is None else guidance,
        **({"form": form} if form else {}),
        **words,
    }
    return [_keyed(sampled(model, ev, seed, i, seconds, temperature, qpm, **said), key) for i, ev in zip(idx, events)]


def decode_prompt(
    model,
    text: str,
    temperature: float = 1.0,
    seed: int | None = None,
    qpm: float | None = None,
    guidance: float | None = None,
    candidates: int | None = None,
) -> list:
    """One 2-bar melody decoded from the centre of the prompt's region (z = its mean).

    A list of one :class:`muse_cli.model.Generated`, named ``prompt.decoded``, like model.decode.
    With a feature probe the candidates share z and differ in the decoder's sampling noise.
    """
    from muse_cli.encoding import window_seconds
    from muse_cli.midi import events_to_notes
    from muse_cli.model import Generated, new_seed, provenance

    seed = new_seed() if seed is None else int(seed)
    key, qpm, words = _said(text, qpm)
    guides = prompt_guides(model, [text], guidance)
    guides.sigma = np.zeros_like(guides.sigma)  # the centre, for every candidate
    events = decode_prompted(model, guides, [0], [(seed, 0)], 1, temperature, candidates, key=key)
    seconds = window_seconds(qpm)
    said = {"prompt": text.strip(), "prompt_head": _head_id(model), "windows": 1, **words}
    prov = provenance(model, seed, temperature, qpm, mode="decode", **said)
    return [_keyed(Generated("prompt.decoded", events_to_notes(events[0]), qpm, seconds, prov), key)]
