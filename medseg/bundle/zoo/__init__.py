"""Run MONAI Model Zoo bundles through medseg's own pipeline (``medseg bundle import-zoo``)."""

from medseg.bundle.zoo.importer import ImportResult, import_zoo

__all__ = ["ImportResult", "import_zoo"]
