"""Tools that make and package models: corpus, train, ship, random_weights.

The fitting layer: never imported by a melody command or the library's recipes (import-linter's contracts
in pyproject.toml hold that); the CLI reads only :mod:`muse_cli.training.options` at start-up, for the fitting
commands' --help. Run them as modules, e.g.
``python -m muse_cli.training.train`` (see the Makefile's train, ship and big targets).
"""
