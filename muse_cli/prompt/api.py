"""What the CLI calls for text prompts: find a checkpoint's head, turn a prompt into a region
of latent space, and sample or decode melodies inside it.

Randomness follows :mod:`muse_cli.model`: melody ``i`` of seed ``s`` walks
``walk_around(mean, sigma, s, i, ...)`` (latents from ``default_rng([s, i, 0])``) and
decodes with noise ``(s, i, 1, k)``; so the same prompt and seed give the same notes.
"""

from __future__ import annotations

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
    from muse_cli.prompt.head import META, PromptHead, checkpoint_identity

    directory = Path(directory) if directory else head_path(model)
    fit_hint = f"muse fit-prompt --checkpoint {model.name if directory == head_path(model) else model.checkpoint}"
    if not (directory / META).exists():
        raise PromptError(f"checkpoint {model.name} has no prompt head ({directory} is missing); "
                          f"train one with: {fit_hint}")
    key = (str(directory.resolve()), (directory / META).stat().st_mtime_ns, str(Path(model.checkpoint).resolve()))
    if key not in _HEADS:
        head = PromptHead.load(directory)
        identity = checkpoint_identity(model.checkpoint)
        if head.checkpoint_sha256 != identity:
            raise PromptError(f"the prompt head in {directory} was trained for another checkpoint "
                              f"(sha256 {head.checkpoint_sha256[:12]}, this one is {identity[:12]}); "
                              f"train one for it with: {fit_hint}")
        if head.z_size != model.z_size:
            raise PromptError(f"the prompt head in {directory} has z size {head.z_size}, checkpoint "
                              f"{model.name} has {model.z_size}; run: {fit_hint}")
        _HEADS[key] = head
    return _HEADS[key]


GUIDANCE = 2.0  # how far a prompt's mean is pushed away from the neutral prompt's (1 = not at all)
NEUTRAL = "a melody"


def prompt_regions(model, texts: list[str], guidance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean [n, z], sigma [n, z]) of each prompt's region. Loads the text encoder on first use.

    With ``guidance`` g != 1 the mean becomes ``neutral + g * (mean - neutral)``, where neutral
    is the region of "a melody" (as classifier-free guidance does for diffusion models).
    """
    from muse_cli.prompt.text import check_prompt, embed_prompts

    texts = [check_prompt(t) for t in texts]
    g = GUIDANCE if guidance is None else float(guidance)
    head = load_head(model)  # before the text encoder: a missing head fails fast
    h, mask = embed_prompts(texts + ([NEUTRAL] if g != 1.0 else []))
    mean, sigma = head.region(h, mask)
    if g != 1.0:
        mean = (mean[-1] + g * (mean[:-1] - mean[-1])).astype(np.float32)
        sigma = sigma[:-1]
    return mean, sigma


def prompt_region(model, text: str, guidance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    mean, sigma = prompt_regions(model, [text], guidance)
    return mean[0], sigma[0]


def _head_id(model) -> str:
    return load_head(model).checkpoint_sha256[:12]


def sample_with_prompt(model, text: str, n: int = 1, seconds: float | None = None, temperature: float = 1.0,
                       seed: int | None = None, qpm: float = 120.0, first_index: int = 0,
                       guidance: float | None = None) -> list:
    """``n`` melodies from the prompt's region, z ~ N(mean, (temperature * sigma)^2).

    With ``seconds`` each melody walks a smooth path inside the region (model.walk_around).
    Returns a list of :class:`muse_cli.model.Generated` with the prompt in their provenance.
    """
    from muse_cli.midi import events_to_notes
    from muse_cli.model import Generated, _seconds_of, decode_paths, new_seed, segments_for, walk_around

    seed = new_seed() if seed is None else int(seed)
    mean, sigma = prompt_region(model, text, guidance)
    segments = segments_for(seconds, qpm)
    idx = range(first_index, first_index + n)
    paths = [walk_around(mean, sigma, seed, i, segments, temperature) for i in idx]
    events = decode_paths(model, paths, [(seed, i) for i in idx], temperature)
    length = _seconds_of(segments, qpm, seconds)
    out = []
    for i, ev in zip(idx, events):
        prov = {"checkpoint": model.name, "seed": seed, "index": i, "temperature": temperature, "qpm": qpm,
                "seconds": length, "mode": "sample", "prompt": text.strip(), "prompt_head": _head_id(model),
                "guidance": GUIDANCE if guidance is None else guidance}
        out.append(Generated(f"sample_s{seed}_{i + 1:03d}", events_to_notes(ev), qpm, length, prov))
    return out


def decode_prompt(model, text: str, temperature: float = 1.0, seed: int | None = None,
                  qpm: float = 120.0, guidance: float | None = None) -> list:
    """One 2-bar melody decoded from the centre of the prompt's region (z = its mean).

    A list of one :class:`muse_cli.model.Generated`, named ``prompt.decoded``, like model.decode.
    """
    from muse_cli.midi import events_to_notes
    from muse_cli.model import WINDOW_BARS, Generated, new_seed

    seed = new_seed() if seed is None else int(seed)
    mean, _ = prompt_region(model, text, guidance)
    events = model.decode_events(mean[None, :], temperature=temperature, noise_seeds=[(seed, 0, 1, 0)])
    seconds = WINDOW_BARS * 4 * 60.0 / qpm
    prov = {"checkpoint": model.name, "seed": seed, "temperature": temperature, "qpm": qpm, "mode": "decode",
            "prompt": text.strip(), "prompt_head": _head_id(model), "windows": 1}
    return [Generated("prompt.decoded", events_to_notes(events[0]), qpm, seconds, prov)]
