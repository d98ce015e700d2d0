"""The planner's memory estimate against one measured training iteration, on this machine.

Plans brain_tumor for a GPU (``--gpu-memory-gb``, default 24) on a manifest (default: the two real
BraTS 2018 cases imported from ../shared/data), builds the planned DynUNet exactly as ``medseg train``
would, and runs one forward/backward of it on the CPU at the planned patch size. Without a GPU the
iteration runs in fp32 (the estimate is made for fp32 too; the GPU figure uses the same formula with
AMP bytes); ``--batch`` lowers the batch when the CPU's RAM cannot hold the planned one (the formula
is linear in the batch). The same is done for the CPU plan. The plain-MONAI column of other
benchmarks has no counterpart here: MONAI has no planner, so the comparison is estimate vs measured.

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


def measure(plan, in_channels: int, out_channels: int, batch: int, threads: int) -> dict:
    """Build the planned network from its config and run one fp32 iteration at ``batch``."""
    import torch
    from monai.bundle import ConfigParser

    from medseg.bundles import find_bundle
    from medseg.losses import build_loss
    from medseg.planning.memory import estimate_memory_gb, measure_iteration
    from medseg.planning.topology import Topology

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    network = ConfigParser({"net": plan.network_def(in_channels, out_channels)}).get_parsed_content("net")
    loss = build_loss(find_bundle("brain_tumor").schema, deep_supervision=True)
    image = torch.randn(batch, in_channels, *plan.patch_size)
    target = (torch.rand(batch, out_channels, *plan.patch_size) > 0.9).float()
    before = peak_rss_mb()
    measured = measure_iteration(network, (image, target), loss)
    topology = Topology(tuple(map(tuple, plan.network["kernel_size"])), tuple(map(tuple, plan.network["strides"])))
    estimate = estimate_memory_gb(topology, plan.patch_size, plan.network["filters"], batch, in_channels,
                                  out_channels, False, plan.network["deep_supr_num"])
    return {**measured, "estimate_gb": estimate, "peak_rss_gain_gb": (peak_rss_mb() - before) / 1024,
            "batch": batch}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--data", type=Path, help="manifest (default: import ../shared/data/brats2018)")
    parser.add_argument("--gpu-memory-gb", type=float, default=24.0)
    parser.add_argument("--batch", type=int, help="batch of the measured GPU-plan iteration (default: the plan's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a loaded 2-core box)")
    parser.add_argument("--skip-gpu-plan", action="store_true", help="measure the CPU plan only")
    args = parser.parse_args()

    from medseg.bundles import find_bundle
    from medseg.planning import plan_for_bundle

    bundle = find_bundle("brain_tumor")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = args.data or default_manifest(Path(tmp))
        plans = {"cpu": plan_for_bundle(bundle, manifest, "cpu")}
        if not args.skip_gpu_plan:
            plans[f"cuda {args.gpu_memory_gb:g} GB"] = plan_for_bundle(bundle, manifest, "cuda", args.gpu_memory_gb)
    rows, figures = [], {}
    for name, plan in plans.items():
        batch = args.batch if args.batch and name != "cpu" else plan.batch_size
        result = measure(plan, 4, 3, batch, args.threads)
        figures[name] = {"plan": {k: plan.to_dict()[k] for k in ("spacing", "patch_size", "batch_size", "network",
                                                                    "memory_estimate_gb", "amp")}, **result}
        rows.append([name, "x".join(map(str, plan.patch_size)), f"{plan.spacing[0]:.2f}",
                     f"{plan.network['filters'][0]}-{plan.network['filters'][-1]}", batch,
                     result["estimate_gb"], result["total_gb"], result["peak_rss_gain_gb"], result["seconds"],
                     f"{plan.memory_estimate_gb:.2f} (batch {plan.batch_size}{', AMP' if plan.amp else ''})"])
    print(table(["plan", "patch", "mm", "filters", "batch run", "estimate GB (fp32)", "measured GB (autograd)",
                 "peak RSS gain GB", "iteration s", "plan's own estimate GB"], rows))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
