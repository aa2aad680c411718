/* fuzz_tfjs.c - libFuzzer target for the TensorFlow.js model.json reader (tfjs.c): any text is
 * rejected with ERR_INPUT or loads into a graph that goes through validation and shape
 * inference. Weight shards are looked for in fuzz/seeds/fuzz_tfjs (run from the repository
 * root, as make fuzz does), so manifests that name them get real bytes to decode. */
#include <stdint.h>
#include <stdlib.h>

#include "io/tfjs.h"
#include "runtime/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    Graph *g = tfjs_parse((const char *)data, size, "fuzz/seeds/fuzz_tfjs", "fuzz/model.json", &err);
    if (!g) {
        if (err.code != ERR_INPUT && err.code != ERR_RUNTIME) abort();
        return 0;
    }
    if (!graph_validate(g, &err)) graph_infer(g, NULL, 0, ref_eval_node, NULL, &err);
    graph_free(g);
    return 0;
}
