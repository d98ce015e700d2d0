"""The ``medseg`` command line: a thin click layer over the Python API (no logic lives here).

Heavy imports happen inside each command so ``medseg --help`` answers at once.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import click

DEVICE = click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N]")


class MedsegGroup(click.Group):
    """Print every ``MedsegError`` (and unexpected errors) as one line; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context):
        from medseg.errors import MedsegError

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except MedsegError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"medseg: error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("medseg: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
            if ctx.obj and ctx.obj.get("debug"):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            click.echo(f"medseg: error: {type(exc).__name__}: {message} (rerun with --debug for details)", err=True)
            sys.exit(1)


@click.group(cls=MedsegGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.version_option(package_name="medseg")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Medical image segmentation on MONAI: train, infer, evaluate, manage bundles."""
    ctx.obj = {"debug": debug}
    if not debug:
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)


@main.command()
@click.argument("bundle")
@click.option("--demo", is_flag=True, help="Train on built-in synthetic data (no download).")
@click.option("--data", type=click.Path(path_type=Path), help="Manifest (MSD datalist JSON).")
@click.option("--output-dir", type=click.Path(path_type=Path), help="Run directory to create.")
@click.option("--epochs", type=int, help="Override the bundle's number of epochs.")
@DEVICE
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE", help="Set a config key (a#b for nesting).")
def train(bundle, demo, data, output_dir, epochs, device, overrides) -> None:
    """Train BUNDLE; the run directory is itself a trained MONAI bundle."""
    import medseg
    from medseg.bundles import parse_overrides

    result = medseg.train(bundle, data=data, demo=demo, output_dir=output_dir, epochs=epochs,
                          device=device, overrides=parse_overrides(overrides))
    click.echo(f"run directory: {result.run_dir}")
    click.echo(f"best validation Dice (mean over channels): {result.best_metric:.4f} at epoch {result.best_epoch}")


@main.command()
@click.argument("bundle")
@click.option("--input", "inputs", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Case folder, NIfTI file or manifest; repeatable.")
@click.option("--output-dir", required=True, type=click.Path(path_type=Path))
@DEVICE
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE")
def infer(bundle, inputs, output_dir, device, overrides) -> None:
    """Segment studies with a trained BUNDLE or run directory; writes <case>_seg.nii.gz."""
    from medseg.bundles import parse_overrides
    from medseg.engine.infer import Predictor

    predictor = Predictor.from_bundle(bundle, device=device, overrides=parse_overrides(overrides))
    for path in predictor.predict_to_dir(list(inputs), output_dir):
        click.echo(str(path))


@main.command()
@click.option("--pred", required=True, type=click.Path(path_type=Path), help="Folder of predicted label maps.")
@click.option("--truth", required=True, type=click.Path(path_type=Path), help="Folder of truths or a manifest.")
@click.option("--bundle", required=True, help="Bundle whose label schema defines the structures.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Per-case CSV (default PRED/evaluation.csv).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def evaluate(pred, truth, bundle, csv_path, as_json) -> None:
    """Dice per label and per region for every predicted case."""
    from medseg.bundles import find_bundle
    from medseg.evaluate import evaluate_predictions
    from medseg.io.atomic import write_text_atomic

    source = find_bundle(bundle)
    result = evaluate_predictions(pred, truth, source.schema, source.modalities)
    write_text_atomic(csv_path or Path(pred) / "evaluation.csv", result.to_csv())
    if as_json:
        click.echo(json.dumps({"cases": len(result.rows), "summary": result.summary(), "per_case": result.rows}))
    else:
        click.echo(result.table())


@main.group()
def data() -> None:
    """Built-in demo data and manifests."""


@data.command("demo")
@click.argument("bundle")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Folder to write the phantoms to.")
@click.option("--seed", default=0, show_default=True)
def data_demo(bundle, output, seed) -> None:
    """Write BUNDLE's built-in synthetic cases and their manifest (training/validation/test)."""
    from medseg.api import write_demo_data

    click.echo(str(write_demo_data(bundle, output, seed=seed)))


@main.group()
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


if __name__ == "__main__":
    main()
