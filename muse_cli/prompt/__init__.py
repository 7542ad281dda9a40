"""Text prompts: a sentence encoder (MiniLM, in NumPy), an additive-attention head that maps
a prompt's token embeddings to a Gaussian region of a checkpoint's latent space (NumPy at run
time, tf.keras to fit it), the captions it is trained on, its training, and the prompt-adherence
evaluation.

Nothing heavy is imported here; :mod:`muse_cli.prompt.api` holds what the CLI calls.
"""
