/* fuzz_graphdef.c - libFuzzer target for the GraphDef reader and writer.
 * Any input must either be rejected with ERR_INPUT or load into a graph that serializes,
 * parses back, re-serializes to the same bytes, and goes through shape inference (with the
 * reference runtime folding small constants) without crashing. Tensor data a parse may
 * materialise is capped so splat constants cannot exhaust memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/graphdef.h"
#include "runtime/ref.h"

static const GraphdefLimits LIMITS = {.max_tensor_bytes = 64 << 20, .max_total_bytes = 256 << 20};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    Graph *g = graphdef_parse_limited(data, size, "fuzz.pb", &LIMITS, &err);
    if (!g) {
        if (err.code != ERR_INPUT && err.code != ERR_RUNTIME) abort();
        return 0;
    }
    uint8_t *s1 = NULL, *s2 = NULL;
    size_t l1 = 0, l2 = 0;
    if (graphdef_serialize(g, &s1, &l1, &err)) abort(); /* whatever loads must save */
    Graph *h = graphdef_parse_limited(s1, l1, "fuzz-reparse.pb", &LIMITS, &err);
    if (!h) abort(); /* and what we write must load */
    if (graphdef_serialize(h, &s2, &l2, &err)) abort();
    if (l1 != l2 || memcmp(s1, s2, l1) != 0) abort(); /* deterministic */
    graph_infer(h, NULL, 0, ref_eval_node, NULL, &err);
    free(s1);
    free(s2);
    graph_free(h);
    graph_free(g);
    return 0;
}
