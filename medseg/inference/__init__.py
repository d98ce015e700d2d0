"""Inference: the ``Predictor`` and its collaborators (inputs, ensembles, test-time flips, post-processing)."""
