"""`medseg train`: a thin layer over ``medseg.api.training``."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import COUNT, DEVICE, INDEX, POSITIVE, TRUST


@click.command()
@click.argument("bundle", required=False)
@click.option("--demo", is_flag=True,
              help="The bundle's quick recipe (minutes on a CPU), on built-in synthetic data unless --data is given.")
@click.option("--data", type=click.Path(path_type=Path), help="Manifest (MSD datalist JSON).")
@click.option("--output-dir", type=click.Path(path_type=Path), help="Run directory to create.")
@click.option("--epochs", type=COUNT, help="Override the bundle's number of epochs.")
@click.option("--fold", type=INDEX, help="Validate on fold K of the manifest's k-fold split (data import --folds N).")
@click.option("--cache", type=click.Choice(["auto", "disk", "memory", "none"]),
              help="Preprocessing cache (default: the bundle's; auto = memory when it fits a quarter of RAM, "
                   "else disk).")
@click.option("--time-limit", type=POSITIVE, metavar="MIN",
              help="A budget of MIN minutes to spend on training: it trains until the budget is used (no fixed "
                   "epoch count), the learning rate decays over it, and it stops in time, checkpointed. With "
                   "--resume: a new total budget for the run.")
@click.option("--no-plan", is_flag=True, help="Use the bundle's configs as written instead of planning for the data.")
@click.option("--gpu-memory-gb", type=POSITIVE, help="Plan for this much GPU memory (default: the GPU's own).")
@DEVICE
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE", help="Set a config key (a#b for nesting).")
@click.option("--resume", type=click.Path(path_type=Path), metavar="RUN_DIR",
              help="Continue a killed or stopped run from its last checkpoint.")
@click.option("--nproc", type=COUNT, default=1, show_default=True,
              help="Processes (GPUs) on this machine: relaunches itself under torchrun with DDP.")
@click.option("--init-from", type=click.Path(path_type=Path), metavar="DIR",
              help="Start from the weights of DIR (e.g. from `medseg bundle import-zoo`); same network only.")
@TRUST
def train(bundle, demo, data, output_dir, epochs, fold, cache, time_limit, no_plan, gpu_memory_gb, device, overrides,
          resume, nproc, init_from, trust) -> None:
    """Train BUNDLE; the run directory is itself a trained MONAI bundle.

    Bundles that support it are planned for the data and device first (see `medseg plan`); the plan
    is written into the run's configs and --override wins over it; --demo keeps the bundle's quick recipe.

    A checkpoint is written every epoch; SIGINT/SIGTERM stop after the current epoch's checkpoint,
    and `medseg train --resume RUN_DIR` continues where the run stopped or was killed.
    """
    import sys

    from medseg.api import parse_overrides, relaunch_under_torchrun, summary, train

    status = relaunch_under_torchrun(nproc, sys.argv[1:])
    if status is not None:
        sys.exit(status)
    result = train(bundle, data=data, demo=demo, output_dir=output_dir, epochs=epochs, device=device,
                   overrides=parse_overrides(overrides) or None, resume=resume, trust=trust, fold=fold, cache=cache,
                   init_from=init_from, time_limit=time_limit, plan=not no_plan, gpu_memory_gb=gpu_memory_gb)
    for line in summary(result):
        click.echo(line)
