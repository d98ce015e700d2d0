# Fresh-machine entry points. torch is pinned first: an unpinned torch pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_PIN ?= torch==2.13.0
# the torchvision built for that torch: monailabel (the [label] extra) pulls torchvision, and the newest one
# (0.29) would replace torch 2.13 with 2.14 and its multi-GB CUDA build
TORCHVISION_PIN ?= torchvision==0.28.0
DEMO := demo_output

.PHONY: install demo test lint clean

$(BIN)/medseg: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e '.[test,label]' $(TORCH_PIN) $(TORCHVISION_PIN)
	touch $(BIN)/medseg

install: $(BIN)/medseg

# Train brain_tumor on built-in phantoms, segment held-out cases, print the evaluation table.
demo: install
	rm -rf $(DEMO)/run $(DEMO)/predictions
	$(BIN)/medseg data demo brain_tumor --output $(DEMO)/data
	$(BIN)/medseg train brain_tumor --demo --data $(DEMO)/data/dataset.json --output-dir $(DEMO)/run --epochs 60
	$(BIN)/medseg infer $(DEMO)/run --input $(DEMO)/data/dataset.json --output-dir $(DEMO)/predictions
	$(BIN)/medseg evaluate --pred $(DEMO)/predictions --truth $(DEMO)/data/dataset.json --bundle $(DEMO)/run

test: lint
	$(BIN)/python -m pytest -q

# ruff, then the layers contract in .importlinter (docs/architecture.md)
lint: install
	$(BIN)/ruff check medseg tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(DEMO) runs *.egg-info
