"""`medseg plan`: a thin layer over ``medseg.planning``."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import POSITIVE, TRUST


@click.command()
@click.argument("bundle")
@click.option("--data", type=click.Path(path_type=Path),
              help="Manifest (MSD datalist JSON); default: the bundle's own dataset.json (bundle new writes one).")
@click.option("--device", default="auto", show_default=True,
              help="Plan for auto|cpu|cuda[:N] (cuda without a GPU here needs --gpu-memory-gb).")
@click.option("--gpu-memory-gb", type=POSITIVE, help="Plan for a GPU with this much memory (no GPU needed here).")
@click.option("--time-limit", "time_limit", type=POSITIVE, metavar="MIN",
              help="Fit the schedule and its learning-rate decay to this many minutes of training.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@TRUST
@click.pass_context
def plan(ctx, bundle, data, device, gpu_memory_gb, time_limit, as_json, trust) -> None:
    """Fingerprint the data of BUNDLE (a task or bundle folder) and plan its training for a device.

    The plan (spacing, patch, batch, DynUNet topology with deep supervision, schedule, memory
    estimate) is what `medseg train` uses by default. A 2D bundle shows the plan `bundle new` made
    from its data; a bundle that does not plan shows its own recipe (neither takes the planning options).
    """
    import json

    from medseg.bundle.find import find_bundle
    from medseg.errors import InputError
    from medseg.planning.bundle import is_plannable, plan_for_bundle, recipe_lines
    from medseg.planning.planar import stored_plan

    found = find_bundle(bundle)
    planar = stored_plan(found.metadata)
    if planar is not None:  # a 2D bundle from `bundle new`: planned from its data when it was made
        _refuse_planning_options(ctx, f"{found.name} keeps the 2D plan `medseg bundle new` made from its data")
        click.echo(json.dumps(planar.to_json(), indent=2) if as_json else "\n".join(planar.lines()))
        return
    if not is_plannable(found, trust):
        _refuse_planning_options(ctx, f"{found.name} does not plan (no 'plan' key in its train.json); "
                                      "it trains with its own recipe")
        lines = recipe_lines(found, trust)
        click.echo(json.dumps({"bundle": found.name, "plan": None, "recipe": lines}, indent=2) if as_json
                   else "\n".join(lines))
        return
    data = data or found.root / "dataset.json"
    if not data.is_file():
        raise InputError("manifest not found (pass --data MANIFEST)", data)
    result = plan_for_bundle(found, data, device, gpu_memory_gb, time_limit, trust)
    click.echo(result.to_json() if as_json else result.table())


def _refuse_planning_options(ctx: click.Context, why: str) -> None:
    """Options that would change nothing for this bundle are refused, not silently dropped."""
    from click.core import ParameterSource

    given = [f"--{name.replace('_', '-')}" for name in ("data", "device", "gpu_memory_gb", "time_limit")
             if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE]
    if given:
        hint = " (give --time-limit to medseg train)" if "--time-limit" in given else ""
        raise click.UsageError(f"{', '.join(given)}: not used: {why}{hint}", ctx)
