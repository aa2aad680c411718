/* tool_int8.c - test helper for tools/int8_compare (not a test suite): loads a model, calibrates
 * it on a directory of images or .npy batches (as grappo optimize --calibration, with --mean /
 * --std for images) and writes grappler+int8's graph (grappler+int7 without VNNI, as optimize)
 * as a GraphDef, without optimize's keep-or-refuse judgement, so the int8 graph can be compared
 * with another quantizer's even where it misses the accuracy budget.
 * usage: tool_int8 IN OUT.pb CALIB_DIR [MEAN STD] */
#include <stdio.h>
#include <stdlib.h>

#include "graph/graph.h"
#include "io/graphdef.h"
#include "io/model_load.h"
#include "optimize/optimize.h"
#include "runtime/ref.h"

int main(int argc, char **argv) {
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: %s IN OUT.pb CALIB_DIR [MEAN STD]\n", argv[0]);
        return 2;
    }
    Err err = {0};
    OptimizeOpts o = optimize_opts_default();
    o.method = OPTIMIZE_GRAPPLER_INT8;
    o.calibration_dir = argv[3];
    OptimizeSession *s = NULL;
    OptimizeProduct p = {0};
    Graph *g = model_file_load(argv[1], NULL, &err);
    int rc = !g || graph_validate(g, &err) || graph_infer(g, NULL, 0, ref_eval_node, NULL, &err);
    if (!rc && argc == 6)
        rc = image_prep_set(&o.image_prep, "mean", argv[4], &err) || image_prep_set(&o.image_prep, "std", argv[5], &err);
    rc = rc || optimize_session_open(g, &o, &s, &err) || optimize_session_produce(s, &o, &p, &err) ||
         graphdef_save(p.graph, argv[2], &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    else printf("%s: rules applied (%d)%s%s\n", p.pipeline, p.log.total, p.note[0] ? "; " : "", p.note);
    optimize_product_free(&p);
    if (s) optimize_session_close(s);
    if (g) graph_free(g);
    return rc ? (err.code == ERR_RUNTIME ? 1 : 2) : 0;
}
