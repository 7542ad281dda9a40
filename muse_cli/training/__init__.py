"""Tools that make and package models: corpus, train, ship, random_weights.

Never imported by the runtime (``muse`` commands and the library), except that ``muse fit-prompt``
reads the corpus through :func:`muse_cli.training.corpus.build`. Run them as modules, e.g.
``python -m muse_cli.training.train`` (see the Makefile's train, ship and big targets).
"""
