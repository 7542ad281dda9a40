# muse: the targets a newcomer and CI use. `make demo` and `make test` do their own set-up.
SHELL := /bin/bash
VENV := .venv
MUSE := $(VENV)/bin/muse
PY := $(VENV)/bin/python
BIG := build/big
ENCODER_STEPS := 13000

.PHONY: setup demo lint test test-all bench-smoke train train-encoder ship prompt-head attrs eval big big-demo bench clean

setup: $(VENV)/.setup-done
$(VENV)/.setup-done: pyproject.toml uv.lock scripts/setup.sh
	@bash scripts/setup.sh
	@touch $@

## The main job: a 16-second melody from the embedded default model, as .mid and .wav in out/.
demo: setup
	$(MUSE) sample --seconds 16 --temperature 1.0 --wav -o out/

## ruff: lint and format check; module and function sizes (CI runs it before the tests).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/check_layout.py
	$(VENV)/bin/lint-imports

## The test suite CI runs: everything but the slow-marked runs. It includes real Dask clusters (muse batch),
## Ctrl-C and SIGKILL while writing, and every README and --help example.
test: setup
	$(VENV)/bin/pytest -q -m "not slow"

## Everything, plus the slow-marked end to end run of a cat-mel_2bar_big-shaped checkpoint (make big: 538 MB).
test-all: setup
	$(VENV)/bin/pytest -q

## Train the default model from scratch (resumable: run again to continue), then `make ship`.
## As the shipped model was made: 6,000 steps, then more from those variables with fresh optimizer
## state (the first run's optimizer state was not kept). The second run was planned to step 10,000 and
## stopped at 7,903 by --max-minutes 29, the rest of the 2-hour budget; --steps 7903 repeats that length.
train: setup
	$(PY) -m muse_cli.training.corpus build/corpus/tunes.json.gz
	$(PY) -m muse_cli.training.train --workdir build/train-first --meters duple --steps 6000
	$(PY) -m muse_cli.training.train --workdir build/train --meters duple --steps 7903 --init-from build/train-first/export
	$(MAKE) train-encoder

## Issue 12: the encoder alone, decoder frozen bit for bit, teacher-forced, on every meter's training windows
## (53,984), as the shipped encoder was made (resumable): beta 0.05 to step 9,000; then with 54,000 windows the
## frozen decoder makes, to step 10,500; then beta 0 (reconstruction alone) to step $(ENCODER_STEPS).
ENCODER_STAGE := --workdir build/train-encoder --meters duple --train-meters all --trainable encoder \
	--init-from build/train/export --eval-every 500 --save-every 250
train-encoder: setup
	$(PY) -m muse_cli.training.train $(ENCODER_STAGE) --hparams '{"max_beta": 0.05}' --steps 9000
	$(PY) -m muse_cli.training.train $(ENCODER_STAGE) --hparams '{"max_beta": 0.05}' --decoder-windows 54000 --steps 10500
	$(PY) -m muse_cli.training.train $(ENCODER_STAGE) --hparams '{"max_beta": 0.0}' --decoder-windows 54000 \
		--steps $(ENCODER_STEPS)

## Copy the trained model's variables into the package and record their sha256 in checkpoints.toml.
ship: setup
	$(PY) -m muse_cli.training.ship build/train-encoder/export

## The default model's text-prompt head (run after `make ship`; caches live in build/prompt-home).
prompt-head: setup
	MUSE_HOME=build/prompt-home $(MUSE) fit-prompt --checkpoint muse-mel_2bar

## The default model's attribute vectors for --attr (run after `make ship`: they are tied to the weights' sha256).
attrs: setup
	$(MUSE) fit-attrs --checkpoint muse-mel_2bar --force

eval: setup
	$(MUSE) eval
	$(MUSE) eval --prompts

## A random-weight checkpoint with cat-mel_2bar_big's exact shapes (~538 MB, not in git), run end to end.
big: setup
	test -f $(BIG)/model.ckpt.index || $(PY) -m muse_cli.training.random_weights $(BIG) --config cat-mel_2bar_big
big-demo: big
	bash bench/big_demo.sh $(BIG)

## Every bench with tiny sizes, to its end (make test runs it too: tests/test_bench_smoke.py).
bench-smoke: setup
	$(VENV)/bin/pytest -q tests/test_bench_smoke.py

## Every README figure: each bench prints the table or JSON it is quoted from.
bench: setup big
	test -f build/corpus/tunes.json.gz || $(PY) -m muse_cli.training.corpus build/corpus/tunes.json.gz
	$(PY) bench/bench_engine.py --big $(BIG)
	$(PY) bench/bench_core.py
	$(PY) bench/bench_vary.py
	$(PY) bench/bench_progress.py
	$(PY) bench/bench_show.py
	$(PY) bench/bench_form.py --tunes build/corpus/tunes.json.gz
	$(PY) bench/bench_conductor.py --tunes build/corpus/tunes.json.gz
	$(PY) bench/bench_conductor.py --cold 5
	$(PY) bench/bench_keytempo.py
	$(PY) bench/bench_attrs.py
	$(PY) bench/bench_prompt.py
	$(PY) bench/bench_batch.py --big $(BIG)
	$(PY) bench/bench_refine.py --steps 0 10 20 30 50 70 --tf-steps 50
	$(PY) bench/bench_family_engines.py --rows 256
	$(PY) bench/bench_family_engines.py --rows 64 --published

clean:
	rm -rf build out .pytest_cache
