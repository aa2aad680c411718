/* fuzz_pbtxt.c - libFuzzer target for the protobuf text format GraphDef reader (io/pbtxt.h).
 * Any input must either be rejected (ERR_INPUT, or ERR_RUNTIME for memory) with a one-line
 * message, or translate to wire bytes the binary reader accepts the same way and load into a
 * graph that serializes, parses back and goes through shape inference without crashing. Tensor
 * data a parse may materialise is capped so splat constants cannot exhaust memory. Text that
 * translates is also written back (pbtxt_write.c), and that text must translate to the same
 * wire bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/graphdef.h"
#include "io/pbtxt.h"
#include "runtime/ref.h"

static const GraphdefLimits LIMITS = {.max_tensor_bytes = 64 << 20, .max_total_bytes = 256 << 20};

/* text -> wire -> text -> wire gives the same wire bytes */
static void check_write_round_trip(const uint8_t *data, size_t size) {
    Err err;
    uint8_t *w1, *w2;
    size_t n1, n2, tlen;
    char *text;
    if (pbtxt_to_graphdef((const char *)data, size, "fuzz.pbtxt", &w1, &n1, &err)) return;
    if (pbtxt_from_graphdef(w1, n1, &text, &tlen, &err)) {
        if (err.code != ERR_RUNTIME) abort(); /* every field the reader writes has a text form */
        free(w1);
        return;
    }
    if (pbtxt_to_graphdef(text, tlen, "written.pbtxt", &w2, &n2, &err)) {
        if (err.code != ERR_RUNTIME) abort();
    } else {
        if (n1 != n2 || memcmp(w1, w2, n1)) abort();
        free(w2);
    }
    free(text);
    free(w1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    check_write_round_trip(data, size);
    Graph *g = pbtxt_parse_limited((const char *)data, size, "fuzz.pbtxt", &LIMITS, &err);
    if (!g) {
        if (err.code != ERR_INPUT && err.code != ERR_RUNTIME) abort();
        if (strchr(err.msg, '\n')) abort(); /* one line */
        return 0;
    }
    uint8_t *s1 = NULL;
    size_t l1 = 0;
    if (graphdef_serialize(g, &s1, &l1, &err)) abort(); /* whatever loads must save */
    Graph *h = graphdef_parse_limited(s1, l1, "fuzz-reparse.pb", &LIMITS, &err);
    if (!h) abort(); /* and what we write must load */
    if (h->n_nodes != g->n_nodes) abort();
    graph_infer(h, NULL, 0, ref_eval_node, NULL, &err);
    free(s1);
    graph_free(h);
    graph_free(g);
    return 0;
}
