#!/usr/bin/env bash
# What `pip install medseg[label]` costs beside the test install: time, disk, and the versions it changes.
# Two fresh venvs (torch pinned first, as the Makefile does); figures in README "Review and correct in 3D Slicer".
# Usage: benchmarks/label_extra_cost.sh [SCRATCH_DIR]   (needs ~6 GB free; takes minutes)
set -euo pipefail
export LC_ALL=C  # one collation for sort and join
cd "$(dirname "$0")/.."
SCRATCH=${1:-$(mktemp -d)}
TORCH_PIN=$(sed -n 's/^TORCH_PIN ?= //p' Makefile)
TORCHVISION_PIN=$(sed -n 's/^TORCHVISION_PIN ?= //p' Makefile)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for extras in test test,label; do
    venv="$SCRATCH/venv-${extras/,/-}"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q "$TORCH_PIN"
    pins="$TORCH_PIN"
    [[ $extras == *label* ]] && pins="$TORCH_PIN $TORCHVISION_PIN"
    start=$(date +%s)
    "$venv/bin/pip" install -q -e ".[$extras]" $pins 2>/dev/null
    echo "[$extras] pip install -e '.[$extras]' $pins: $(( $(date +%s) - start )) s, venv $(du -sh "$venv" | cut -f1)"
    "$venv/bin/pip" freeze --exclude-editable | sed 's/==/ /' | sort > "$venv.txt"
    "$venv/bin/python" -c "import torch, numpy; print('  torch', torch.__version__, '(CUDA build)' if torch.version.cuda \
        else '(CPU build)', ' numpy', numpy.__version__)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions the label extra changes (test install -> test,label install):"
join "$SCRATCH/venv-test.txt" "$SCRATCH/venv-test-label.txt" | awk '$2 != $3 {print "  " $1 ": " $2 " -> " $3}'
echo "packages it adds: $(join -v2 "$SCRATCH/venv-test.txt" "$SCRATCH/venv-test-label.txt" | wc -l)"
# pip >= 24.2 stops `pip check` on itk's malformed WHEEL tag ("itk-5.4.7-cp311-abi3-..."); the last pip before it checks
"$SCRATCH/venv-test-label/bin/pip" install -q 'pip<24.2'
"$SCRATCH/venv-test-label/bin/pip" check
