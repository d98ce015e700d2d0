"""Bundles: finding and reading them, sealing and trusting them, runs, creating, exporting, the zoo importer.

Reading and sealing (``find``, ``trust``, ``sealed_imports``, ``runs``, ``provenance``) sit low, since
every stage reads bundles; creating, exporting and importing (``create``, ``export``, ``zoo``) sit high,
since they plan, import data and load weights (docs/architecture.md).
"""
