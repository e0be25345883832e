# Two commands set everything up: `make demo` and `make test`. Both create .venv first.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[dev,parquet]"
	touch $(STAMP)

demo: install
	$(PY) -m hwnas.cli search --config examples/digits.yaml --out runs/demo

lint: install
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/lint-imports
	.venv/bin/vulture src/hwnas --min-confidence 80

test: install lint
	.venv/bin/pytest

clean:
	rm -rf .venv runs .pytest_cache
