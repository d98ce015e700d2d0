"""`medseg bundle ...`: list and verify bundles."""

from __future__ import annotations

import click


@click.group()
def bundle() -> None:
    """List and verify bundles."""


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
