"""The planner's memory estimate against measured training iterations, on this machine.

Plans brain_tumor on a manifest (default: the two real BraTS 2018 cases of ../shared/data, imported
as a user would) for a GPU (``--gpu-memory-gb``, default 24) and for this CPU, builds each planned
DynUNet exactly as ``medseg train`` would (from the config the plan writes) and measures one training
iteration (forward, deep-supervised Dice+BCE, backward) two ways:

* on PyTorch's ``meta`` device at the plan's own patch and batch: autograd keeps the same tensors as
  on a real device, so their bytes are exact, without allocating them (a GPU-sized iteration
  would not fit beside the other jobs on this machine);
* for real on the CPU (fp32), at the plan's patch and ``--batch`` (default: the plan's batch for the
  CPU plan, 1 for the GPU plan): time and peak RSS too.

Both are compared with the planner's formula for the same batch in fp32 (``medseg.planning.memory``);
the GPU plan's own figure uses AMP bytes and cannot be checked without a GPU. There is no plain-MONAI
column: MONAI has no planner, so the comparison is the estimate against the measurement.

    python benchmarks/plan_memory.py [--data M.json] [--gpu-memory-gb 24] [--batch 1] [--json out.json]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, benchmark_parser, peak_rss_mb, table  # noqa: E402


def default_manifest(folder: Path) -> Path:
    """Import ../shared/data/brats2018 the way a user would (medseg data import brats)."""
    from medseg.data.importers import import_dataset

    return import_dataset("brats", REPO.parent / "shared" / "data" / "brats2018", "brain_tumor",
                          folder / "brats18.json")


def measure(plan, batch: int, device: str) -> dict:
    """Build the planned network from its config and run one fp32 iteration at ``batch`` on ``device``."""
    import torch
    from monai.bundle import ConfigParser

    from medseg.bundle.find import find_bundle
    from medseg.planning.memory import estimate_memory_gb, measure_iteration
    from medseg.planning.topology import Topology
    from medseg.training.losses import build_loss

    in_channels, out_channels = 4, 3
    torch.manual_seed(0)
    network = ConfigParser({"net": plan.network_def(in_channels, out_channels)}).get_parsed_content("net").to(device)
    loss = build_loss(find_bundle("brain_tumor").schema, deep_supervision=True)
    image = torch.randn(batch, in_channels, *plan.patch_size, device=device)
    target = (torch.rand(batch, out_channels, *plan.patch_size, device=device) > 0.9).float()
    before = peak_rss_mb()
    measured = measure_iteration(network, (image, target), loss)
    topology = Topology(tuple(map(tuple, plan.network["kernel_size"])), tuple(map(tuple, plan.network["strides"])))
    estimate = estimate_memory_gb(topology, plan.patch_size, plan.network["filters"], batch, in_channels,
                                  out_channels, False, plan.network["deep_supr_num"])
    return {**measured, "estimate_gb": estimate, "batch": batch, "device": device,
            "peak_rss_gain_gb": (peak_rss_mb() - before) / 1024 if device == "cpu" else None}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--data", type=Path, help="manifest (default: import ../shared/data/brats2018)")
    parser.add_argument("--gpu-memory-gb", type=float, default=24.0)
    parser.add_argument("--batch", type=int, default=1, help="batch of the real CPU iteration of the GPU plan")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a loaded 2-core box)")
    parser.add_argument("--skip-gpu-plan", action="store_true", help="measure the CPU plan only")
    parser.add_argument("--skip-real", action="store_true", help="meta-device counts only (no real iteration)")
    args = parser.parse_args()

    import torch

    from medseg.bundle.find import find_bundle
    from medseg.planning import plan_for_bundle

    bundle = find_bundle("brain_tumor")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = args.data or default_manifest(Path(tmp))
        plans = {"cpu": plan_for_bundle(bundle, manifest, "cpu")}
        if not args.skip_gpu_plan:
            plans[f"cuda {args.gpu_memory_gb:g} GB"] = plan_for_bundle(bundle, manifest, "cuda", args.gpu_memory_gb)
    torch.set_num_threads(args.threads)
    rows, figures = [], {}
    for name, plan in plans.items():
        runs = [("meta", plan.batch_size)]
        if not args.skip_real:
            runs.append(("cpu", plan.batch_size if name == "cpu" else args.batch))
        for device, batch in runs:
            result = measure(plan, batch, device)
            figures[f"{name} / {device}"] = {"plan": {k: plan.to_dict()[k] for k in (
                "spacing", "patch_size", "batch_size", "network", "memory_estimate_gb", "amp")}, **result}
            rss = result["peak_rss_gain_gb"]
            rows.append([name, "x".join(map(str, plan.patch_size)), f"{plan.spacing[0]:.2f}",
                         f"{plan.network['filters'][0]}-{plan.network['filters'][-1]}", device, batch,
                         result["estimate_gb"], result["total_gb"], "-" if rss is None else f"{rss:.2f}",
                         "-" if device == "meta" else f"{result['seconds']:.1f}",
                         f"{plan.memory_estimate_gb:.2f} (batch {plan.batch_size}{', AMP' if plan.amp else ''})"])
    print(table(["plan", "patch", "mm", "filters", "device", "batch", "estimate GB (fp32)",
                 "measured GB (autograd + params)", "peak RSS gain GB", "iteration s", "plan's estimate GB"], rows))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
