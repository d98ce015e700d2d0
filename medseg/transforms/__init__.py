"""Task transform chains, built from MONAI transforms."""
