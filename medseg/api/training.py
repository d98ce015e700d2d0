"""``medseg train``: new runs, ``--resume``, ``--init-from``, demo data, DDP ranks (``--nproc``), and what it says."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medseg.api.datasets import default_manifest, demo_manifest
from medseg.bundle.find import Bundle, find_bundle
from medseg.bundle.runs import LAST, create_run_bundle, default_run_dir, set_time_limit
from medseg.bundle.trust import check_trusted
from medseg.errors import InputError, find_medseg_error
from medseg.inference.postprocessing_search import choose_postprocessing
from medseg.planning import is_plannable, plan_for_bundle, plan_overrides
from medseg.runtime import distributed
from medseg.runtime.checkpoint import init_weights
from medseg.runtime.device import resolve_device
from medseg.training.budget import positive_minutes


def train(
    bundle: str | Path | None = None,
    data: str | Path | None = None,
    demo: bool = False,
    output_dir: str | Path | None = None,
    epochs: int | None = None,
    device: str = "auto",
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    resume: str | Path | None = None,
    trust: bool = False,
    fold: int | None = None,
    cache: str | None = None,
    init_from: str | Path | None = None,
    time_limit: float | None = None,
    plan: bool = True,
    gpu_memory_gb: float | None = None,
):
    """Train a bundle and return a ``TrainResult``; the run directory is itself a trained bundle.

    A bundle that opts into planning (a ``plan`` key in ``train.json``) is planned for the data and
    the device first (``medseg.planning``) and the plan is written into the run's configs; ``overrides``
    win over the plan. ``demo`` keeps the bundle's own quick recipe (on the built-in phantoms unless
    ``data`` is given); ``plan=False`` keeps it on any data.

    ``time_limit`` (minutes) is a budget to spend: training runs until it is used (not for a number of
    epochs, so it excludes ``epochs``), the learning rate decays over it, and the last epoch stops in
    time, validated and checkpointed; it is written into the run's configs. ``resume`` continues the
    run directory from its last checkpoint (its configs, data, epoch count and time budget as they
    were; ``time_limit`` with ``resume`` sets a new total budget); ``bundle``, if also given, must be
    the one the run was trained from. A new run that fails before its first checkpoint leaves no run
    directory.
    Under torchrun every rank calls this; rank 0 alone creates the run directory and demo data.
    ``init_from``: a bundle or run directory (e.g. ``medseg bundle import-zoo``) whose weights the
    network starts from; it must be the same network with the same modalities and output channels.
    """
    distributed.setup(resolve_device(device))  # fail before any data is generated or read
    time_limit = None if time_limit is None else positive_minutes(time_limit)  # before a run's configs hold it
    if time_limit is not None and (epochs is not None or "epochs" in (overrides or {})):
        raise InputError("--epochs and --time-limit both set how long to train: give one (a time limit trains "
                         "until its budget is spent, however many epochs that is)")
    if resume is not None:
        if data is not None or demo or overrides or epochs is not None or output_dir is not None or init_from:
            raise InputError("--resume continues a run as it was configured: drop --data/--demo/--epochs/"
                             "--override/--output-dir/--init-from", resume)
        run = find_bundle(resume)
        if bundle is not None and find_bundle(bundle).name != run.name:
            raise InputError(f"--resume {resume} was not trained from bundle {bundle!r}", resume)
        if time_limit is not None:  # a new total budget for the run, kept in its configs
            check_trusted(run.root, trust)
            if distributed.is_main_process():
                set_time_limit(run.root, time_limit)
            distributed.barrier()
        return _finish(_run_trainer(run, device, progress, trust, resume=True), device, trust)
    if bundle is None:
        raise InputError("name a bundle to train (or --resume RUN_DIR)")
    source = find_bundle(bundle)
    source.parser("inference", "train", overrides=overrides, trust=trust)  # unknown override keys fail here too
    init = _init_bundle(source, init_from) if init_from is not None else None
    if demo and data is None:  # generated once, by rank 0; broadcasting also makes the other ranks wait for it
        manifest = distributed.broadcast(demo_manifest(source.name) if distributed.is_main_process() else None)
    else:
        manifest = Path(data) if data else default_manifest(source.name, source.root)
    if not manifest.is_file():
        raise InputError("manifest not found", manifest)
    settings: dict[str, Any] = {}
    planned_run = plan and not demo and is_plannable(source, trust)
    if gpu_memory_gb is not None and not planned_run:  # it only sizes a plan: say so rather than drop it
        raise InputError(f"--gpu-memory-gb sizes a plan, and this run of {source.name} is not planned "
                         "(--demo, --no-plan, or a bundle without a 'plan' key)", source.root)
    if planned_run and distributed.is_main_process():
        planned = plan_for_bundle(source, manifest, device, gpu_memory_gb, time_limit, trust)
        settings.update(plan_overrides(source, planned, trust))
    settings.update(overrides or {})
    settings["datalist"] = str(manifest.resolve())
    settings["device"] = device
    if epochs is not None:
        settings["epochs"] = int(epochs)
    if fold is not None:
        settings["fold"] = int(fold)
    if cache is not None:
        settings["cache"] = cache
    run_dir = Path(distributed.broadcast(Path(output_dir) if output_dir else default_run_dir(source)))
    created = not run_dir.exists()
    distributed.barrier()
    try:
        if distributed.is_main_process():
            create_run_bundle(source, run_dir, settings, time_limit)  # --resume and monai.bundle run keep it
        distributed.barrier()
        result = _run_trainer(Bundle(run_dir.resolve()), device, progress, trust, init=init)
        return _finish(result, device, trust)
    except BaseException:
        if created and distributed.is_main_process() and not (run_dir / LAST).exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing worth keeping: leave no half run behind
        raise


def _init_bundle(source: Bundle, init_from: str | Path) -> Bundle:
    """The bundle ``--init-from`` names, refused when its channels mean something else than ``source``'s."""
    init = find_bundle(init_from)
    ours = (source.modalities, source.schema.mode, source.schema.channel_names)
    theirs = (init.modalities, init.schema.mode, init.schema.channel_names)
    if ours != theirs:
        raise InputError(f"--init-from: its inputs/outputs ({theirs[0]} -> {theirs[1]} {list(theirs[2])}) are not "
                         f"this bundle's ({ours[0]} -> {ours[1]} {list(ours[2])})", init.root)
    return init


def _finish(result, device: str, trust: bool = False):
    """After training: choose the post-processing on the run's validation cases (e.g. small enhancing
    tumour relabelled as necrosis) when the bundle declares a search (``medseg.inference.postprocessing_search``);
    not again when a resumed run's time budget was already spent."""
    if distributed.is_main_process() and not (result.budget is not None and result.budget.already_spent):
        choose_postprocessing(result.run_dir, device=device, trust=trust)
    distributed.barrier()
    return result


def _run_trainer(run_bundle: Bundle, device: str, progress: bool, trust: bool, resume: bool = False,
                 init: Bundle | None = None):
    if resume and not (run_bundle.root / LAST).is_file():
        raise InputError(f"nothing to resume: no {LAST} (not a medseg run directory?)", run_bundle.root)
    from monai.utils import set_determinism

    parser = run_bundle.parser("inference", "train", trust=trust)
    parser["device"] = device
    set_determinism(seed=int(parser.get("seed", 0)))  # the network's initial weights are drawn while building
    try:
        trainer = parser.get_parsed_content("trainer")
    except RuntimeError as exc:  # MONAI wraps errors raised while building components
        raise find_medseg_error(exc) or exc from exc
    if init is not None:
        init_weights(distributed.unwrap(trainer.network), init.root)
    trainer.progress = progress and distributed.is_main_process()
    trainer.resume_from = run_bundle.root / LAST if resume else None
    return trainer.run()


def relaunch_under_torchrun(nproc: int, argv: Sequence[str]) -> int | None:
    """``--nproc N`` (N > 1) outside torchrun: the same command again as N torchrun ranks on this machine,
    and their exit status; ``None`` where this process trains itself (one process, or already a rank)."""
    if nproc <= 1 or distributed.is_distributed():
        return None
    import subprocess

    return subprocess.call(distributed.torchrun_command(nproc, list(argv)))


def summary(result) -> list[str]:
    """What ``medseg train`` says at the end: rank 0 only, and nothing after a budget already spent (the
    trainer said so in one line)."""
    if not distributed.is_main_process() or (result.budget is not None and result.budget.already_spent):
        return []
    lines = [f"run directory: {result.run_dir}"]
    if result.best_metric < 0:
        lines.append(f"no validation cases: models/model.pt holds the weights of the last epoch ({result.best_epoch})")
    elif result.kept == "final":
        lines.append(f"models/model.pt holds the final weights (epoch {result.best_epoch}); their validation Dice "
                     f"(mean over channels): {result.best_metric:.4f}")
    else:
        lines.append(f"best validation Dice (mean over channels): {result.best_metric:.4f} "
                     f"at epoch {result.best_epoch}")
    if result.budget is not None:
        lines.append(result.budget.line())
    return lines
