/* tool_convert.c - test helper for tests/tf (not a test suite): loads any model grappo reads
 * (model_load: SavedModel directory, model.json, .pb), infers it and writes it as a frozen
 * GraphDef when OUT ends in ".pb", else as a SavedModel directory (savedmodel_save), so
 * TensorFlow can check the writers until `grappo optimize -o DIR/` calls savedmodel_save.
 * usage: tool_convert IN OUT.pb|OUT_DIR */
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "io/graphdef.h"
#include "io/model_load.h"
#include "io/saved_model.h"
#include "runtime/ref.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN OUT.pb|OUT_DIR\n", argv[0]);
        return 2;
    }
    Err err = {0};
    size_t n = strlen(argv[2]);
    bool pb = n > 3 && !strcmp(argv[2] + n - 3, ".pb");
    Graph *g = model_file_load(argv[1], NULL, &err);
    if (!g || graph_validate(g, &err) || graph_infer(g, NULL, 0, ref_eval_node, NULL, &err) ||
        (pb ? graphdef_save(g, argv[2], &err) : savedmodel_save(g, argv[2], &err))) {
        fprintf(stderr, "%s\n", err.msg);
        if (g) graph_free(g);
        return err.code == ERR_RUNTIME ? 1 : 2;
    }
    graph_free(g);
    return 0;
}
