# LensBench: `make run` (install + quick benchmark) and `make test` (install + test suite).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.lensbench-installed
RESULTS ?= runs/quick/results

.PHONY: install run test lint leaderboard clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,sims,ray,postgres]'
	touch $(STAMP)

install: $(STAMP)

# The main job on the embedded default: every registered task, its default models, the quick
# preset, one seed; then the leaderboard and where the MLflow runs are.
run: install
	$(BIN)/lensbench sweep --preset quick --seeds 0 --results $(RESULTS)
	$(BIN)/lensbench leaderboard --results $(RESULTS) --out runs/quick

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check benchmark lensing tasks baselines pinn_models tests perf

clean:
	rm -rf $(VENV) runs mlflow.db
