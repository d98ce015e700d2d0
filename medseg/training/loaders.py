"""The trainer's data: every case checked first, the split recorded, cached datasets, and the loaders
(one shard per rank under DDP)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from medseg.bundle.find import Bundle
from medseg.bundle.provenance import record_training_data
from medseg.data.cache import make_dataset
from medseg.data.check import check_manifest, problems_error
from medseg.data.manifest import load_manifest
from medseg.io.validate import explain_load_failure
from medseg.modalities import ModalitySubsets
from medseg.runtime import distributed
from medseg.runtime.checkpoint import network_in_channels


def make_loaders(trainer: Any) -> tuple[Any, Any]:
    """Check every training/validation case first (all problems in one error), then cache and load.

    Sets ``trainer.generator`` (the shuffling generator the resume checkpoint keeps)."""
    from monai.data import DataLoader, list_data_collate

    manifest = load_manifest(trainer.datalist, modalities=trainer.modalities)
    subsets = ModalitySubsets.from_metadata(Bundle(trainer.bundle_root).metadata)  # studies may lack sequences
    problems = check_manifest(manifest, trainer.schema, network_in_channels(trainer.network), len(trainer.roi_size),
                              sections=("training", "validation"), subsets=subsets)
    if problems:
        raise problems_error(problems, manifest.path)
    train_cases, val_cases = manifest.train_validation_split(trainer.validation_fraction, seed=trainer.seed,
                                                             fold=trainer.fold)
    if distributed.is_main_process():
        record_training_data(trainer.run_dir, manifest.path, train_cases, val_cases, trainer.fold)
    try:
        train_ds = make_dataset([manifest.item(c) for c in train_cases], trainer.train_transforms, trainer.cache,
                                trainer.cache_dir)
        val_ds = make_dataset([manifest.item(c) for c in val_cases], trainer.val_transforms, trainer.cache,
                              trainer.cache_dir)
    except Exception as exc:  # name the case file at fault, not MONAI's wrapper
        files = [p for c in train_cases + val_cases for p in (*c.images, c.label)]
        raise explain_load_failure(exc, files) from exc
    trainer.generator = torch.Generator().manual_seed(trainer.seed)
    train_sampler = val_sampler = None
    if distributed.is_distributed():
        from monai.data import DistributedSampler

        # each rank sees its own shard; per-rank batch x ranks = the global batch
        train_sampler = DistributedSampler(train_ds, shuffle=trainer.shuffle, seed=trainer.seed)
        val_sampler = DistributedSampler(val_ds, shuffle=False, even_divisible=False)
    train_loader = DataLoader(
        train_ds, batch_size=trainer.batch_size, shuffle=trainer.shuffle and train_sampler is None,
        sampler=train_sampler, num_workers=trainer.num_workers, collate_fn=list_data_collate,
        generator=trainer.generator, pin_memory=trainer.device.type == "cuda",
        persistent_workers=trainer.num_workers > 0,
    )
    return train_loader, DataLoader(val_ds, batch_size=1, num_workers=0, sampler=val_sampler)


def batches(loader: Iterable, iterations: int | None) -> Iterator:
    """One pass over the loader, or ``iterations`` batches drawn from as many passes as needed."""
    if iterations is None:
        yield from loader
        return
    done = 0
    while done < iterations:
        for batch in loader:
            yield batch
            done += 1
            if done == iterations:
                return
