"""`medseg bundle ...`: list and verify bundles."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def bundle() -> None:
    """List, verify and export bundles."""


@bundle.command("list")
def bundle_list() -> None:
    """Names of the bundles shipped with medseg."""
    from medseg.bundles import find_bundle, list_bundles

    for name in list_bundles():
        click.echo(f"{name}\t{find_bundle(name).metadata.get('task', '')}")


@bundle.command("verify")
@click.argument("bundle")
def bundle_verify(bundle) -> None:
    """Check BUNDLE's metadata against the offline MONAI metadata schema and its label schema."""
    from medseg.bundles import find_bundle, verify_bundle

    found = find_bundle(bundle)
    verify_bundle(found)
    click.echo(f"{found.name}: metadata and label schema verified ({found.root})")


@bundle.command("export")
@click.argument("run")
@click.option("--format", "formats", multiple=True, required=True, type=click.Choice(["torchscript", "onnx", "zip"]),
              help="torchscript → models/model.ts, onnx → models/model.onnx (both checked against PyTorch), "
                   "zip → RUN.zip that medseg infer accepts; repeatable.")
@click.option("--output", type=click.Path(path_type=Path), help="Output file (one --format only).")
def bundle_export(run, formats, output) -> None:
    """Export a trained RUN's network, or zip the whole run to share it."""
    from medseg.errors import BundleError
    from medseg.export import TOLERANCE, export_network, zip_bundle

    if output and len(formats) > 1:
        raise BundleError("--output needs a single --format")
    for fmt in formats:
        if fmt == "zip":
            click.echo(str(zip_bundle(run, output)))
            continue
        result = export_network(run, fmt, output)
        click.echo(f"{result.path}  (max |Δ| vs PyTorch {result.max_abs_diff:.2e}; "
                   f"tolerance atol {TOLERANCE['atol']:g} + rtol {TOLERANCE['rtol']:g})")
