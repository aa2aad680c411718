# make bench-peers: grappo next to ONNX Runtime (tf2onnx), OpenVINO (+NNCF), Intel Neural
# Compressor and TensorFlow on the same SavedModels, one alternating run (tools/bench_peers,
# docs/bench-peers.md) -> bench/peers.json, bench/peers.svg, its section of bench/RESULTS.md.
# The peers live in their own pinned virtual environment ($(PEERS_VENV), from
# requirements/peers/peers.txt), never in $(VENV), which make test installs.
#   PEERS_ARGS='--models resnet50 --repeats 30'   options of python -m bench_peers (--help)
#   make peers-deps    only the virtual environment
#   make test-peers    ruff + the unit tests of the statistics/table/SVG code (stdlib, test venv)
PEERS_VENV ?= .venv-peers
PEERS_REQ  := requirements/peers/peers.txt
PEERS_ARGS ?=

.PHONY: bench-peers peers-deps test-peers
peers-deps: $(PEERS_VENV)/.installed
$(PEERS_VENV)/.installed: $(PEERS_REQ)
	@[ -x $(PEERS_VENV)/bin/python ] || $(PYTHON) -m venv $(PEERS_VENV) || { echo "peers-deps: $(PYTHON) -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
	$(PEERS_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(PEERS_REQ)
	@touch $@

# venv: the generated models come from tests/tf/gen_models.py in the test venv (as for bench-tf)
bench-peers: venv peers-deps
	@$(MAKE) --no-print-directory all
	PYTHONPATH=$(abspath tools) GRAPPO=$(abspath $(BUILD)/grappo) GRAPPO_LIBRARY=$(abspath $(BUILD)/libgrappo.so) \
	  GRAPPO_TEST_PYTHON=$(abspath $(VENV))/bin/python $(PEERS_VENV)/bin/python -m bench_peers $(PEERS_ARGS)

test-peers: venv
	@cd tools/bench_peers && $(abspath $(VENV))/bin/python -m ruff check . && $(abspath $(VENV))/bin/python -m ruff format --check . >/dev/null \
	  && $(abspath $(VENV))/bin/python -m pytest -q tests
