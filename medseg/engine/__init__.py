"""Training and inference loops."""
