"""Training: the loop that writes a run directory, its data loaders, loss, time budget, log and resume state."""
