"""Planning a bundle on data: ``medseg plan`` (table and JSON) and the keys a plan sets in a bundle."""

from __future__ import annotations

import json

from click.testing import CliRunner

from medseg.bundle.find import find_bundle
from medseg.cli import main
from medseg.planning import plan_for_bundle, plan_overrides


def test_plan_for_the_tiny_phantoms_on_a_cpu(tiny_dataset):
    bundle = find_bundle("brain_tumor")
    plan = plan_for_bundle(bundle, tiny_dataset, "cpu")
    assert plan.device == "cpu" and plan.fingerprint["cases"] == 6  # training + validation cases
    assert plan.fingerprint["modalities"] == ["t1", "t1ce", "t2", "flair"]
    assert set(plan.fingerprint["class_frequency"]) == {"1", "2", "4"}
    overrides = plan_overrides(bundle, plan)
    assert overrides["network_def"]["_target_"] == "monai.networks.nets.DynUNet"
    assert overrides["network_def"]["in_channels"] == 4 and overrides["network_def"]["out_channels"] == 3
    assert overrides["roi_size"] == overrides["patch_size"] == plan.patch_size
    assert overrides["spacing"] == plan.spacing and overrides["plan"]["patch_size"] == plan.patch_size


def test_cli_plan_json_for_a_gpu_without_one(tiny_dataset):
    result = CliRunner().invoke(main, ["plan", "brain_tumor", "--data", str(tiny_dataset), "--device", "cuda",
                                       "--gpu-memory-gb", "24", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["device"] == "cuda" and plan["amp"] is True
    assert {"spacing", "patch_size", "batch_size", "network"} <= set(plan)
    assert plan["network"]["deep_supervision"] is True and plan["batch_size"] >= 2


def test_cli_plan_table_on_cpu_with_a_time_limit(tiny_dataset):
    result = CliRunner().invoke(main, ["plan", "brain_tumor", "--data", str(tiny_dataset), "--device", "cpu",
                                       "--time-limit", "30"])
    assert result.exit_code == 0, result.output
    assert "patch size" in result.output and "deep supervision" in result.output
    assert "30 min" in result.output and "cpu (fp32)" in result.output


def test_cli_plan_cuda_without_gpu_or_memory_is_one_line_error(tiny_dataset):
    import torch

    if torch.cuda.is_available():
        return
    result = CliRunner().invoke(main, ["plan", "brain_tumor", "--data", str(tiny_dataset), "--device", "cuda"])
    assert result.exit_code != 0
    assert "--gpu-memory-gb" in result.output


def test_the_plan_counts_the_cases_that_have_each_sequence_and_leaves_out_rare_ones(tiny_dataset, tmp_path):
    document = json.loads(tiny_dataset.read_text())
    for entry in [*document["training"], *document["validation"]][1:]:  # 1 of 6 cases keeps T2
        entry["image"] = [p for p in entry["image"] if "_t2." not in p]
        entry["missing"] = ["t2"]
    manifest = tmp_path / "mixed.json"
    manifest.write_text(json.dumps({**document, "data_root": str(tiny_dataset.parent)}))
    bundle = find_bundle("brain_tumor")
    plan = plan_for_bundle(bundle, manifest, "cpu")
    assert plan.fingerprint["sequence_share"] == {"t1": 1.0, "t1ce": 1.0, "t2": 1 / 6, "flair": 1.0}
    assert plan.ignore_modalities == ["t2"] and plan_overrides(bundle, plan)["ignore_modalities"] == ["t2"]
    assert plan_for_bundle(bundle, tiny_dataset, "cpu").ignore_modalities == []

