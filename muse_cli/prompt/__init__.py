"""Text prompts: a sentence encoder (MiniLM, in TensorFlow), an additive-attention head that maps
a prompt's token embeddings to a Gaussian region of a checkpoint's latent space, the captions it
is trained on, its training, and the prompt-adherence evaluation.

Nothing heavy is imported here; :mod:`muse_cli.prompt.api` holds what the CLI calls.
"""
