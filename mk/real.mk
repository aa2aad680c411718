# make bench-real: `grappo bench` on each trained model of `make models` with its labelled data
# (none, grappler, grappler+int8, sensitivity, ppo+bo timed in one alternating loop, accuracy
# judged on labelled top-1) -> the table and the agent-vs-fixed verdicts in its block of
# bench/RESULTS.md, the bench reports in bench/real/<model>/ (tools/bench_real). Needs only
# python3's standard library. Run on a quiet machine. The agent reads the shipped kernel cost
# tables (copied as for make policy and make bench), not the user's cache.
#   BENCH_REAL_ARGS='--models resnet50 --eval-images 500 --repeats 30'   (python3 -m bench_real --help in tools/)
#   make test-bench-real   ruff + the unit tests of its table code (test venv)
BENCH_REAL_ARGS ?=

.PHONY: bench-real test-bench-real
bench-real: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD)/policy-costs
	@cp policies/costs-*.tsv $(BUILD)/policy-costs/ 2>/dev/null || true
	PYTHONPATH=$(abspath tools) $(PYTHON) -m bench_real $(abspath $(BUILD)/grappo) --cost-cache $(abspath $(BUILD)/policy-costs) $(BENCH_REAL_ARGS)

test-bench-real: venv
	@cd tools/bench_real && $(abspath $(VENV))/bin/python -m ruff check . && $(abspath $(VENV))/bin/python -m ruff format --check . >/dev/null \
	  && $(abspath $(VENV))/bin/python -m pytest -q tests
