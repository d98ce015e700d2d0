"""`medseg plan`: a thin layer over ``medseg.planning``."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import TRUST


@click.command()
@click.argument("bundle")
@click.option("--data", type=click.Path(path_type=Path),
              help="Manifest (MSD datalist JSON); default: the bundle's own dataset.json (bundle new writes one).")
@click.option("--device", default="auto", show_default=True,
              help="Plan for auto|cpu|cuda[:N] (cuda without a GPU here needs --gpu-memory-gb).")
@click.option("--gpu-memory-gb", type=float, help="Plan for a GPU with this much memory (no GPU needed here).")
@click.option("--time-limit", "time_limit", type=float, metavar="MIN",
              help="Fit the schedule and its learning-rate decay to this many minutes of training.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@TRUST
def plan(bundle, data, device, gpu_memory_gb, time_limit, as_json, trust) -> None:
    """Fingerprint the data of BUNDLE (a task or bundle folder) and plan its training for a device.

    The plan (spacing, patch, batch, DynUNet topology with deep supervision, schedule, memory
    estimate) is what `medseg train` uses by default.
    """
    import json

    from medseg.bundles import find_bundle
    from medseg.data.plan2d import stored_plan
    from medseg.errors import InputError
    from medseg.planning.bundle import is_plannable, plan_for_bundle, recipe_lines

    found = find_bundle(bundle)
    planar = stored_plan(found.metadata)
    if planar is not None:  # a 2D bundle from `bundle new`: planned from its data when it was made
        click.echo(json.dumps(planar.to_json(), indent=2) if as_json else "\n".join(planar.lines()))
        return
    if not is_plannable(found, trust):
        click.echo("\n".join(recipe_lines(found, trust)))
        return
    data = data or found.root / "dataset.json"
    if not data.is_file():
        raise InputError("manifest not found (pass --data MANIFEST)", data)
    result = plan_for_bundle(found, data, device, gpu_memory_gb, time_limit, trust)
    click.echo(result.to_json() if as_json else result.table())
