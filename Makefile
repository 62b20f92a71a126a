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
# The real-data tasks read REAL_DATA (default: $LENSBENCH_REAL_DATA), filled by `lensbench data fetch --all`.
REAL_DATA ?= $(LENSBENCH_REAL_DATA)
run: install
	@if [ -n "$(REAL_DATA)" ] && $(BIN)/lensbench data fetch --all --check --data-root "$(REAL_DATA)" >/dev/null; \
	then echo "real data: $(REAL_DATA) (verified)"; \
	else echo "real data not found: the real-data tasks are skipped. To run them:"; \
	echo "  $(BIN)/lensbench data fetch --all --data-root DIR   (offline: add --from FOLDER)"; \
	echo "  make run REAL_DATA=DIR"; fi
	LENSBENCH_REAL_DATA="$(REAL_DATA)" $(BIN)/lensbench sweep --preset quick --seeds 0 --results $(RESULTS)
	$(BIN)/lensbench leaderboard --results $(RESULTS) --out runs/quick

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check benchmark lensing tasks baselines pinn_models tests perf

clean:
	rm -rf $(VENV) runs mlflow.db
