"""What training and inference share to run: the device and AMP, DDP ranks, checkpoint files, clean stops."""
