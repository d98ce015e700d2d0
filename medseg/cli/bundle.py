"""`medseg bundle ...`: list and verify bundles."""

from __future__ import annotations

from pathlib import Path

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


@bundle.command("trust")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def bundle_trust(path) -> None:
    """Seal the bundle at PATH after reading its configs: medseg then runs it without --trust.

    The seal covers every configs/*.json; editing one of them needs a new seal.
    """
    from medseg.bundles import find_bundle
    from medseg.trust import seal

    found = find_bundle(path)
    seal(found.root)
    click.echo(f"{found.root}: sealed; its configs run without --trust until one of them changes")
