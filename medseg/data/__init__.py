"""Data lists (manifests), datasets and built-in demo data."""
