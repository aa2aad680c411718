# make bench-real: grappo's searches (grappler, grappler+int8, sensitivity, ppo+bo) on the
# trained models of `make models`, each judged on the model's labelled data and timed against
# the fp32 input in one process (tools/bench_real) -> its block of bench/RESULTS.md; reports and
# logs in build/bench-real/. Needs only python3's standard library. Run on a quiet machine.
#   BENCH_REAL_ARGS='--models resnet50 --methods sensitivity --eval-images 500'   (--help)
#   make test-bench-real   ruff + the unit tests of its table code (test venv)
BENCH_REAL_ARGS ?=

.PHONY: bench-real test-bench-real
bench-real: deps
	@$(MAKE) --no-print-directory all
	PYTHONPATH=$(abspath tools) $(PYTHON) -m bench_real $(abspath $(BUILD)/grappo) $(BENCH_REAL_ARGS)

test-bench-real: venv
	@cd tools/bench_real && $(abspath $(VENV))/bin/python -m ruff check . && $(abspath $(VENV))/bin/python -m ruff format --check . >/dev/null \
	  && $(abspath $(VENV))/bin/python -m pytest -q tests
