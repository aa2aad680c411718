/* tool_savedmodel_write.c - test helper for tests/tf (not a test suite): loads any model
 * grappo reads (model_load), infers it and writes it with savedmodel_save, so TensorFlow can
 * check the writer until `grappo optimize -o DIR/` calls it.
 * usage: tool_savedmodel_write IN OUT_DIR */
#include <stdio.h>

#include "graph/graph.h"
#include "io/model_load.h"
#include "io/saved_model.h"
#include "runtime/ref.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN OUT_DIR\n", argv[0]);
        return 2;
    }
    Err err = {0};
    Graph *g = model_load(argv[1], NULL, &err);
    if (!g || graph_validate(g, &err) || graph_infer(g, NULL, 0, ref_eval_node, NULL, &err) ||
        savedmodel_save(g, argv[2], &err)) {
        fprintf(stderr, "%s\n", err.msg);
        if (g) graph_free(g);
        return err.code == ERR_RUNTIME ? 1 : 2;
    }
    graph_free(g);
    return 0;
}
