# mk/lowp.mk - the low-precision kernel suites under each x86 ISA level oneDNN can be capped to.
# `make test-isa` runs them with ONEDNN_MAX_CPU_ISA=AVX2 (no VNNI: 7-bit weights, bf16 on the
# reference kernels), AVX512_CORE (AVX-512 without VNNI/BF16), AVX512_CORE_VNNI and with the full
# ISA (BF16, AMX where present). A cap above what the CPU has is the CPU's own level, so the run
# is valid on any x86 machine; each suite prints the ISA it ran on (test_lowp_isa) or adapts its
# expectations to it (test_dnn_quant: dnn_cpu_has_vnni). `make test` already runs test_lowp_isa,
# which repeats itself under AVX2.
LOWP_ISA_SUITES := test_lowp_isa test_dnn_quant test_dnn_conv test_dnn_matmul test_lowp test_rules_quant
LOWP_ISA_LEVELS := AVX2 AVX512_CORE AVX512_CORE_VNNI ALL

.PHONY: test-isa
test-isa: $(patsubst %,$(BUILD)/tests/%,$(LOWP_ISA_SUITES))
	@for isa in $(LOWP_ISA_LEVELS); do \
	    echo "== ONEDNN_MAX_CPU_ISA=$$isa"; \
	    ONEDNN_MAX_CPU_ISA=$$isa sh tests/run_all.sh $(patsubst %,$(BUILD)/tests/%,$(LOWP_ISA_SUITES)) \
	        >$(BUILD)/test-isa-$$isa.log 2>&1; rc=$$?; \
	    grep -h '^\[ .*ONEDNN_MAX_CPU_ISA' $(BUILD)/test-isa-$$isa.log | head -n 1; tail -n 1 $(BUILD)/test-isa-$$isa.log; \
	    [ $$rc -eq 0 ] || { echo "see $(BUILD)/test-isa-$$isa.log"; exit 1; }; \
	done
