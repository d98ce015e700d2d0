"""The planner's rules on made-up fingerprints: isotropic and anisotropic data, small and large memory."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from medseg.planning import cpu_budget, gpu_budget, make_plan
from medseg.planning.fingerprint import Fingerprint
from medseg.planning.plan import LONG_SCHEDULE_ITERATIONS
from medseg.planning.rules import target_spacing
from medseg.planning.topology import plan_topology


def fingerprint(spacing, shape, cases: int = 20, jitter: float = 0.05) -> Fingerprint:
    rng = np.random.default_rng(0)
    spacings = [[s * (1 + rng.uniform(-jitter, jitter)) for s in spacing] for _ in range(cases)]
    shapes = [[int(n * (1 + rng.uniform(-jitter, jitter))) for n in shape] for _ in range(cases)]
    return Fingerprint(spacings, shapes, shapes, [{"mean": 0.0, "std": 1.0}], {"1": 0.1}, ["image"])


BRATS = fingerprint((1.0, 1.0, 1.0), (140, 172, 136), jitter=0.0)  # brain box of a BraTS case at 1 mm
PROSTATE = fingerprint((0.6, 0.6, 3.6), (220, 220, 24))  # thick slices: anisotropic


def test_isotropic_large_gpu_plans_a_large_patch_at_full_resolution_with_deep_supervision():
    plan = make_plan(BRATS, gpu_budget(24), in_channels=4, out_channels=3)
    assert plan.spacing == [1.0, 1.0, 1.0]
    assert min(plan.patch_size) >= 112 and plan.batch_size >= 2
    assert plan.network["deep_supervision"] and plan.network["deep_supr_num"] >= 2
    assert all(k == [3, 3, 3] for k in plan.network["kernel_size"])
    assert plan.network["strides"][0] == [1, 1, 1] and all(s == [2, 2, 2] for s in plan.network["strides"][1:])
    assert plan.network["filters"][0] == 32 and max(plan.network["filters"]) == 320
    assert plan.memory_estimate_gb <= plan.memory_budget_gb
    divisor = np.prod(np.asarray(plan.network["strides"]), axis=0)
    assert all(p % d == 0 for p, d in zip(plan.patch_size, divisor))


def test_small_memory_shrinks_the_patch_along_the_axis_largest_for_the_data():
    large = make_plan(BRATS, gpu_budget(24), 4, 3)
    small = make_plan(BRATS, gpu_budget(6), 4, 3)
    assert np.prod(small.patch_size) < np.prod(large.patch_size)
    assert small.memory_estimate_gb <= small.memory_budget_gb < large.memory_budget_gb
    assert small.batch_size >= 2
    # the aspect follows the data: the longest axis of the median shape stays the longest of the patch
    assert int(np.argmax(small.patch_size)) == int(np.argmax(BRATS.median_shape))


def test_more_memory_than_the_patch_needs_buys_a_larger_batch():
    many = fingerprint((1.0, 1.0, 1.0), (64, 64, 64), cases=400, jitter=0.0)
    plan = make_plan(many, gpu_budget(80), 1, 2)
    assert plan.patch_size == [64, 64, 64]  # never larger than the data
    assert plan.batch_size > 2


def test_anisotropic_spacing_keeps_thin_slices_and_convolves_in_plane_first():
    assert target_spacing(PROSTATE)[2] < np.median(np.asarray(PROSTATE.spacings)[:, 2])  # 10th percentile
    plan = make_plan(PROSTATE, gpu_budget(24), 1, 2)
    kernels, strides = plan.network["kernel_size"], plan.network["strides"]
    assert kernels[0] == [3, 3, 1] and strides[1] == [2, 2, 1]  # in-plane only while slices are 6x thicker
    assert kernels[-1] == [3, 3, 3]  # once pooling has brought in-plane spacing near the slice thickness
    assert sum(s[2] == 2 for s in strides) < sum(s[0] == 2 for s in strides)
    assert plan.patch_size[2] < plan.patch_size[0]


def test_topology_pools_an_axis_only_while_its_feature_map_stays_at_least_min_feature():
    topology = plan_topology((1.0, 1.0), (64, 16))
    # 16 -> 4 after 2 pools; 64 -> 8 after 3, and one axis alone is pooled only while >= 3 * 4 voxels
    assert topology.divisor == (8, 4)
    assert topology.voxels_per_level((64, 16)) == [64 * 16, 32 * 8, 16 * 4, 8 * 4]


def test_two_dimensional_fingerprints_plan_too():
    plan = make_plan(fingerprint((0.5, 0.5), (512, 480)), gpu_budget(12, dims=2), 3, 5)
    assert len(plan.patch_size) == 2 and len(plan.network["kernel_size"][0]) == 2
    assert plan.network["filters"][-1] <= 512


def test_cpu_plan_fits_its_compute_budget_and_sees_half_the_foreground():
    budget = cpu_budget()
    plan = make_plan(BRATS, budget, 4, 3)
    assert plan.seconds_per_iteration_estimate <= budget.max_seconds_per_iteration
    assert plan.patch_coverage >= 0.5
    assert plan.spacing[0] > 1.0  # coarser than the data: a CPU cannot afford full resolution
    assert plan.network["filters"][0] == 16 and not plan.amp
    assert plan.iterations_per_epoch * plan.epochs < 250 * 1000


def test_time_limit_sets_the_expected_epochs():
    plan = make_plan(BRATS, cpu_budget(), 4, 3, time_limit_min=30)
    epoch_s = plan.iterations_per_epoch * plan.seconds_per_iteration_estimate
    assert plan.estimated_epochs == int(30 * 60 / epoch_s)  # the budget, not the epoch count, bounds the run
    assert "30 min" in plan.table()


def test_json_carries_the_required_fields_and_overrides_build_a_dynunet():
    import torch
    from monai.bundle import ConfigParser

    tiny = fingerprint((2.0, 2.0, 2.0), (16, 16, 16), jitter=0.0)
    plan = make_plan(tiny, replace(cpu_budget(), max_filters=16), 2, 3)
    data = plan.to_dict()
    assert {"spacing", "patch_size", "batch_size", "network"} <= set(data)
    assert data["network"]["deep_supervision"] is True
    network = ConfigParser({"net": plan.overrides(2, 3)["network_def"]}).get_parsed_content("net")
    out = network(torch.zeros(2, 2, *plan.patch_size))
    assert out.shape == (2, 1 + plan.network["deep_supr_num"], 3, *plan.patch_size)  # deep supervision heads
    network.eval()
    assert network(torch.zeros(1, 2, *plan.patch_size)).shape == (1, 3, *plan.patch_size)


@pytest.mark.parametrize("budget", [gpu_budget(4), gpu_budget(48), cpu_budget()])
def test_every_plan_fits_its_memory(budget):
    for fp in (BRATS, PROSTATE):
        plan = make_plan(fp, budget, 4, 3)
        assert plan.memory_estimate_gb <= budget.memory_gb


@pytest.mark.parametrize("budget, time_limit, profile", [
    (gpu_budget(48), None, "nnunet"),  # nnU-Net's 1000 x 250 schedule: its heavy augmentation pays
    (gpu_budget(48), 60 * 24, "nnunet"),  # a GPU-day
    (cpu_budget(), None, "light"),  # 100 x 50 iterations on a CPU
    (cpu_budget(), 30, "light"),  # the benchmark's 30 CPU-minutes
])
def test_augmentation_follows_the_number_of_iterations_the_budget_buys(budget, time_limit, profile):
    plan = make_plan(BRATS, budget, 4, 3, time_limit_min=time_limit)
    assert plan.augmentation == profile
    assert (plan.estimated_iterations >= LONG_SCHEDULE_ITERATIONS) == (profile == "nnunet")
    assert plan.overrides(4, 3)["augmentation"] == profile and profile in plan.table()


@pytest.mark.parametrize("budget, time_limit, name, lr", [
    (gpu_budget(48), None, "SGD", 0.01),  # nnU-Net's schedule keeps nnU-Net's optimiser
    (gpu_budget(48), 60 * 24, "SGD", 0.01),
    (cpu_budget(), None, "AdamW", 3e-3),
    (cpu_budget(), 30, "AdamW", 3e-3),  # the benchmark's 30 CPU-minutes
])
def test_optimiser_follows_the_number_of_iterations_the_budget_buys(budget, time_limit, name, lr):
    import torch
    from monai.bundle import ConfigParser

    plan = make_plan(BRATS, budget, 4, 3, time_limit_min=time_limit)
    overrides = plan.overrides(4, 3)
    parser = ConfigParser({"learning_rate": overrides["learning_rate"], "optimizer": overrides["optimizer"]})
    optimizer = parser.get_parsed_content("optimizer")([torch.nn.Parameter(torch.zeros(1))])
    assert type(optimizer).__name__ == name and optimizer.param_groups[0]["lr"] == lr
    assert (name == "SGD") == (plan.estimated_iterations >= LONG_SCHEDULE_ITERATIONS)
    assert plan.to_dict()["optimizer"]["name"] == name and name in plan.table()


def test_planned_runs_drop_present_sequences_centre_half_the_patches_on_tumour_and_keep_the_final_weights():
    overrides = make_plan(BRATS, cpu_budget(), 4, 3).overrides(4, 3)
    assert overrides["modality_dropout#prob"] == 0.5 and overrides["modality_dropout#among"] == "present"
    assert overrides["foreground_share"] == 0.5
    assert overrides["keep_model"] == "final"


def test_sequences_few_training_cases_have_are_left_out_and_the_table_says_why():
    mixed = replace(BRATS, modalities=["t1", "t1ce", "t2", "flair"],
                    sequence_share={"t1": 1 / 6, "t1ce": 1.0, "t2": 1 / 6, "flair": 1.0})
    plan = make_plan(mixed, cpu_budget(), 4, 3)
    assert plan.ignore_modalities == ["t1", "t2"] and plan.overrides(4, 3)["ignore_modalities"] == ["t1", "t2"]
    assert "t1 (in 17% of the cases), t2 (in 17% of the cases); under 25% is not used" in plan.table()
    complete = replace(mixed, sequence_share={"t1": 0.25, "t1ce": 1.0, "t2": 1.0, "flair": 1.0})
    assert make_plan(complete, cpu_budget(), 4, 3).ignore_modalities == []  # a quarter is enough
    assert make_plan(BRATS, cpu_budget(), 4, 3).ignore_modalities == []  # counts unknown: nothing left out
