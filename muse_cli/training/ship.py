"""Ship a trained model: copy its variables into the package and register it in checkpoints.toml.

    python -m muse_cli.training.ship build/train/export     (make ship)

Copies only the model variables (the export has no optimizer slots) to
muse_cli/checkpoints/muse-mel_2bar/, exports them for the NumPy engine (weights.npz),
writes its muse.json (with both sha256s), and rewrites the
registry block between the BEGIN/END markers of checkpoints.toml with the new
sha256 and size.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from muse_cli import settings
from muse_cli.registry import MANIFEST

NAME = "muse-mel_2bar"
BEGIN = f"# BEGIN {NAME} (written by `make ship`; edit muse_cli/training/ship.py instead)"
END = f"# END {NAME}"
DESCRIPTION = (
    "muse's default 2-bar melody MusicVAE (z 128, encoder 256, decoder 2x256), trained with magenta's "
    "own model code on 7,465 duple-meter tunes of music21's corpus; its encoder retrained alone, decoder frozen"
)
SOURCE = (
    "music21 9.7.0 corpus: Essen folksongs, O'Neill's Music of Ireland (1850), Ryan's Mammoth Collection, "
    "Aird's Airs, misc folk, Bach chorale sopranos; see README 'The default model'"
)
LICENSE = (
    "weights: Apache-2.0 like muse; training data: music21's corpus, whose Essen folksong files are "
    "distributed 'for non-commercial distribution and use' (music21 corpus/essenFolksong/license.txt); "
    "the other collections are public-domain tunes"
)


def ship(export: Path, hparams: dict, base: str, extra: dict | None = None) -> Path:
    from muse_cli.cache import checkpoint_identity, checkpoint_prefix, sha256_of
    from muse_cli.engines import weights

    prefix = Path(checkpoint_prefix(export))
    dest = settings.EMBEDDED_DIR / NAME
    dest.mkdir(parents=True, exist_ok=True)
    for old in list(dest.glob("model.ckpt*")) + [dest / "checkpoint", dest / weights.FILENAME]:
        if old.exists():
            old.unlink()
    for src in prefix.parent.glob(prefix.name + ".*"):
        shutil.copy2(src, dest / ("model.ckpt" + src.name[len(prefix.name) :]))
    digest = checkpoint_identity(dest)
    size = sum(p.stat().st_size for p in dest.glob("model.ckpt*"))
    weights.export(dest, base, hparams)  # the NumPy engine's weights, shipped beside the checkpoint
    manifest = {
        "name": NAME,
        "config": base,
        "hparams": hparams,
        "sha256": digest,
        "size": size,
        "numpy_weights_sha256": sha256_of(dest / weights.FILENAME),
        "source": SOURCE,
        "license": LICENSE,
        **(extra or {}),
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    _write_registry_block(base, hparams, digest, size)
    return dest


def _toml_value(v) -> str:
    return json.dumps(v)  # JSON scalars and lists of numbers are valid TOML


def _write_registry_block(base: str, hparams: dict, digest: str, size: int) -> None:
    path = settings.REGISTRY_FILE
    text = path.read_text()
    hp = ", ".join(f"{k} = {_toml_value(v)}" for k, v in hparams.items())
    block = "\n".join(
        [
            BEGIN,
            f'[checkpoints."{NAME}"]',
            f'config = "{base}"',
            f'embedded = "{NAME}"',
            f'sha256 = "{digest}"',
            f"size = {size}",
            "sampling = true",
            f"hparams = {{ {hp} }}",
            f"description = {_toml_value(DESCRIPTION)}",
            f"source = {_toml_value(SOURCE)}",
            f"license = {_toml_value(LICENSE)}",
            END,
        ]
    )
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv=None) -> int:
    from muse_cli.training import train

    argv = argv if argv is not None else sys.argv[1:]
    export = Path(argv[0] if argv else "build/train/export")
    log = export.parent / "log.csv"
    extra = {}
    if log.exists():
        import csv

        rows = list(csv.DictReader(open(log)))
        if rows:
            extra = {"trained_steps": int(rows[-1]["step"]), "train_wall_s": float(rows[-1]["wall_s"])}
    stage = export.parent / "hparams.json"
    if stage.exists() and json.loads(stage.read_text()).get("trainable") == "encoder":
        extra["encoder_stage"] = "encoder alone from step 7,903, decoder frozen (make train-encoder)"
    dest = ship(export, train.HPARAMS, train.BASE_CONFIG, extra)
    print(f"shipped {dest} and updated {settings.REGISTRY_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
