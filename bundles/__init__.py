"""Data-only package: the MONAI bundles shipped with medseg (installed as ``medseg_bundles``)."""
