# mk/openmp.mk - files whose loops run on an OpenMP team (the one oneDNN's kernels use, from
# libgomp, already linked): the memory-floor read (src/measure/bandwidth.c), the
# matrix-vector kernel (src/runtime/native_gemv.c) and GrappoQuantize's loops
# (src/runtime/dnn_quant.c). Only these get -fopenmp; without it (the fuzz build) their
# pragmas are ignored and they run single-threaded, with the same results.
OPENMP_OBJ := measure/bandwidth runtime/native_gemv runtime/dnn_quant
$(patsubst %,$(BUILD)/obj/%.o,$(OPENMP_OBJ)) $(patsubst %,$(BUILD)/pic/%.o,$(OPENMP_OBJ)): CFLAGS += -fopenmp
# the memory floor is a measuring instrument, not code under test: its read loop is compiled
# the same (vectorized) in every build, so a -O1 sanitizer build measures the memory, not its
# own slower loop (the loop is also exempt from AddressSanitizer in bandwidth.c)
$(BUILD)/obj/measure/bandwidth.o $(BUILD)/pic/measure/bandwidth.o: CFLAGS += -O2

# tools/ab_gemv: the A/B timing of a model with and without the matrix-vector path (not part
# of `make all`; `make ab-gemv` builds it)
.PHONY: ab-gemv
ab-gemv: $(BUILD)/tools/ab_gemv
$(BUILD)/tools/ab_gemv: tools/ab_gemv/ab_gemv.c $(BUILD)/libgrappo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $< $(BUILD)/libgrappo.a -o $@ $(LDLIBS)
