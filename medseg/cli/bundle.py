"""`medseg bundle ...`: list, verify, create, trust, export and import (MONAI Model Zoo) bundles."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import COUNT, api_usage_errors


@click.group()
def bundle() -> None:
    """List, verify, create, trust and export bundles."""


@bundle.command("list")
def bundle_list() -> None:
    """Names of the bundles shipped with medseg."""
    from medseg.api.bundles import bundle_tasks

    for name, task in bundle_tasks():
        click.echo(f"{name}\t{task}")


@bundle.command("verify")
@click.argument("bundle")
def bundle_verify(bundle) -> None:
    """Check BUNDLE's metadata against the offline MONAI metadata schema and its label schema."""
    from medseg.api.bundles import verify

    found = verify(bundle)
    click.echo(f"{found.name}: metadata and label schema verified ({found.root})")


@bundle.command("trust")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def bundle_trust(path) -> None:
    """Seal the bundle at PATH after reading its configs: medseg then runs it without --trust.

    The seal covers every file under configs/ and every .py file of the bundle; editing one needs a new seal.
    """
    from medseg.api.bundles import trust_bundle

    root = trust_bundle(path)
    click.echo(f"{root}: sealed; its configs run without --trust until one of them changes")


@bundle.command("new")
@click.argument("name")
@click.option("--from-folder", "folders", nargs=2, required=True, type=click.Path(path_type=Path),
              metavar="IMAGES MASKS", help="Folder of images and folder of masks with the same file names.")
@click.option("--labels", "labels", multiple=True,
              help="Label names in mask-value order (road,car,sidewalk), or how the masks store each one: "
                   "NAME=VALUE (membrane=0) or NAME=R,G,B (road=128,64,128); repeatable or space-separated.")
@click.option("--colour-table", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Colour-coded masks: a file of 'NAME R G B' lines (or Slicer .ctbl 'VALUE NAME R G B').")
@click.option("--dims", type=click.Choice(["2", "3"]), help="2D or 3D (default: from the images).")
@click.option("--output", type=click.Path(path_type=Path), help="Bundle folder to create (default ./my_bundles/NAME).")
@click.option("--image-size", type=COUNT, help="2D: resize images to this square size (default: native resolution).")
@click.option("--label-map", help="Mask value → label value, e.g. 255=1 (default: inferred from the masks).")
@click.option("--ignore", type=click.IntRange(0, 65535),
              help="Mask value of unannotated pixels (CamVid 11, Cityscapes 255, unoutlined slices): no loss, "
                   "no metric, never predicted.")
@api_usage_errors
def bundle_new(name, folders, labels, colour_table, dims, output, image_size, label_map, ignore) -> None:
    """Create bundle NAME from an image/mask folder pair, planned from the data, ready for `medseg train NAME`.

    Prints how the mask values were read and the plan (resolution, patches, normalisation, batch,
    schedule, augmentation); both are also in the bundle's configs and docs/README.md.
    """
    from medseg.api.packaging import create_bundle

    result = create_bundle(name, folders[0], folders[1], labels, colour_table, dims=int(dims) if dims else None,
                           output=output, image_size=image_size, label_map=label_map, ignore=ignore)
    for line in result.lines:
        click.echo(line)
    click.echo(f"{result.root}: bundle written; train it with: medseg train {result.root} [--time-limit MIN]")


@bundle.command("export")
@click.argument("run")
@click.option("--format", "formats", multiple=True, required=True, type=click.Choice(["torchscript", "onnx", "zip"]),
              help="torchscript → models/model.ts, onnx → models/model.onnx (both checked against PyTorch), "
                   "zip → RUN.zip that medseg infer accepts; repeatable.")
@click.option("--output", type=click.Path(path_type=Path), help="Output file (one --format only).")
def bundle_export(run, formats, output) -> None:
    """Export a trained RUN's network, or zip the whole run to share it."""
    from medseg.api.packaging import export_run

    for line in export_run(run, formats, output):
        click.echo(line)


@bundle.command("import-zoo")
@click.argument("source", metavar="NAME_OR_FOLDER")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="medseg bundle folder to create.")
@click.option("--version", "version", help="Zoo bundle version (a download; checked against a folder's metadata).")
def bundle_import_zoo(source, output, version) -> None:
    """Import a MONAI Model Zoo bundle (a name to download, or an unpacked folder) as a medseg bundle.

    The zoo's configs are read, never run: medseg keeps the network (a monai.networks.nets class), its
    weights and the declared preprocessing, maps channels and labels through its zoo table, and seals
    the configs it wrote. Then: medseg infer OUTPUT --input CASE --output-dir predictions
    """
    from medseg.api.packaging import import_zoo

    result = import_zoo(source, output, version=version)
    for note in result.notes:
        click.echo(f"medseg: warning: {source}: {note}", err=True)
    click.echo("imported from the zoo (what the medseg bundle runs):")
    for line in result.imported:
        click.echo(f"  {line}")
    click.echo(f"not run: the zoo's other {len(result.not_run)} $ expressions and _target_ components "
               "(also listed in docs/README.md):")
    for expression in result.not_run:
        click.echo(f"  {expression.line()}")
    click.echo(f"{result.root}: medseg bundle written and sealed; run it with: "
               f"medseg infer {result.root} --input CASE --output-dir predictions")
