/* fuzz_saved_model.c - libFuzzer target for the SavedModel loader (saved_model.c, freeze.c):
 * any saved_model.pb is rejected with ERR_INPUT or frozen into a graph that goes through
 * validation and shape inference without crashing. No variables (no checkpoint is given), so
 * graphs that read variables must fail cleanly too. */
#include <stdint.h>
#include <stdlib.h>

#include "io/saved_model.h"
#include "runtime/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    Graph *g = savedmodel_parse(data, size, "fuzz/saved_model.pb", NULL, NULL, &err);
    if (!g) {
        if (err.code != ERR_INPUT && err.code != ERR_RUNTIME) abort();
        return 0;
    }
    if (!graph_validate(g, &err)) graph_infer(g, NULL, 0, ref_eval_node, NULL, &err);
    graph_free(g);
    return 0;
}
