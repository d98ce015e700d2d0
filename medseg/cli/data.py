"""`medseg data ...`: demo data and manifests."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import COUNT, FRACTION


@click.group()
def data() -> None:
    """Built-in demo data and manifests."""


@data.command("demo")
@click.argument("bundle")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Folder to write the phantoms to.")
@click.option("--seed", default=0, show_default=True)
def data_demo(bundle, output, seed) -> None:
    """Write BUNDLE's built-in synthetic cases and their manifest (training/validation/test)."""
    from medseg.api.datasets import write_demo_data

    click.echo(str(write_demo_data(bundle, output, seed=seed)))


@data.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["msd", "brats", "nnunet", "folder"]))
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--task", required=True, help="Bundle whose label schema and modalities the data is mapped onto.")
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="Manifest to write (data_manifests/NAME.json).")
@click.option("--data-root", type=click.Path(path_type=Path),
              help="Store paths relative to this folder (default SOURCE).")
@click.option("--folds", type=COUNT, default=5, show_default=True, help="Number of cross-validation folds to assign.")
@click.option("--test-fraction", type=FRACTION, default=0.0, show_default=True,
              help="Fraction of labelled cases held out as test.")
@click.option("--seed", default=0, show_default=True, help="Seed of the fold and test assignment.")
@click.option("--label-map", help="Source→bundle label values, e.g. 255=1 (overrides the format's declared map).")
@click.option("--layout", type=click.Choice(["structures", "pairs"]),
              help="folder: structures = images/ + masks/<structure>/ (JSRT/SCR); pairs = images/ + masks/ "
                   "(Montgomery); default: images/ + labels|masks/ matched by name, unlabelled images as test.")
@click.option("--ignore", type=click.IntRange(0, 65535),
              help="Source value of unannotated voxels, read as the bundle's void (bundle new --ignore).")
def data_import(fmt, source, task, output, data_root, folds, test_fraction, seed, label_map, layout, ignore) -> None:
    """Import a dataset in FORMAT (msd, brats [2018-2021 or 2023], nnunet, folder/CSV) from SOURCE."""
    from medseg.api.datasets import import_data

    path = import_data(fmt, source, task, output, data_root=data_root, folds=folds, seed=seed,
                       test_fraction=test_fraction, label_map=label_map, layout=layout, ignore=ignore)
    click.echo(str(path))


@data.command("check")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--bundle", help="Bundle (or run directory) the data must fit (default: the one the manifest names).")
@click.option("--deep", is_flag=True, help="Also read every voxel: NaN/Inf, constant images, empty labels.")
@click.option("--data-root", type=click.Path(path_type=Path), help="Root the manifest's paths are relative to.")
def data_check(manifest, bundle, deep, data_root) -> None:
    """List every problem of every case (one line each: case, file, problem); exit 1 if any."""
    from medseg.api.checking import check_data

    problems, notes = check_data(manifest, bundle, deep=deep, data_root=data_root)
    for note in notes:
        click.echo(f"note: {note}")
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problem(s) found in {manifest}", err=True)
        raise SystemExit(1)
    click.echo(f"{manifest}: no problems found")


@data.command("import-xray")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Manifest JSON to write.")
@click.option("--layout", type=click.Choice(["structures", "pairs"]), default="structures", show_default=True,
              help="structures: images/ + masks/<structure>/ (JSRT/SCR); pairs: images/ + masks/ (one lung label).")
@click.option("--test-fraction", type=FRACTION, default=0.0, show_default=True,
              help="Seeded share of cases held out as 'test'.")
@click.option("--seed", default=0, show_default=True)
def data_import_xray(folder, output, layout, test_fraction, seed) -> None:
    """Write a manifest for a chest X-ray FOLDER (for `medseg train chest_xray --data`).

    The same as `medseg data import folder FOLDER --task chest_xray --layout LAYOUT`.
    """
    from medseg.api.datasets import import_xray

    click.echo(str(import_xray(folder, output, layout=layout, test_fraction=test_fraction, seed=seed)))
