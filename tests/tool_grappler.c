/* tool_grappler.c - test helper for make test-corpus (not a test suite): loads a model, applies
 * the "grappler" pipeline with --target tf's rules (RULE_TF) and writes the result as a GraphDef,
 * without optimize's keep-or-refuse timing, so the rewritten graph is checked even where
 * `grappo optimize` keeps the input because the rewrite was not faster in its short timing.
 * GRAPPO_TOOL_FOLDED=1 runs pipeline_grappler_bn_folded instead (batch norms folded first,
 * TF's (conv + shortcut) + bias sums re-associated).
 * usage: tool_grappler IN OUT.pb [NAME=D,D,... ...]   (input shapes, as --input-shape) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "io/graphdef.h"
#include "io/model_load.h"
#include "rewrite/pipeline.h"
#include "runtime/ref.h"

int main(int argc, char **argv) {
    if (argc < 3 || argc - 3 > 16) {
        fprintf(stderr, "usage: %s IN OUT.pb [NAME=D,D,... ...]\n", argv[0]);
        return 2;
    }
    InputSpec specs[16];
    char names[16][1024];
    int ns = 0;
    for (int a = 3; a < argc; a++, ns++) {
        const char *eq = strrchr(argv[a], '=');
        if (!eq || (size_t)(eq - argv[a]) >= sizeof names[0]) { fprintf(stderr, "bad input shape '%s'\n", argv[a]); return 2; }
        memcpy(names[ns], argv[a], (size_t)(eq - argv[a]));
        names[ns][eq - argv[a]] = 0;
        specs[ns] = (InputSpec){names[ns], {0}, DT_INVALID};
        for (const char *p = eq + 1; *p && specs[ns].shape.rank < MAX_RANK;) {
            char *end;
            specs[ns].shape.dim[specs[ns].shape.rank++] = strtoll(p, &end, 10);
            if (end == p) { fprintf(stderr, "bad input shape '%s'\n", argv[a]); return 2; }
            p = *end == ',' ? end + 1 : end;
        }
    }
    Err err = {0};
    RewriteLog log = {0};
    const char *folded_env = getenv("GRAPPO_TOOL_FOLDED");
    bool folded = folded_env && !strcmp(folded_env, "1");
    Graph *g = model_file_load(argv[1], NULL, &err);
    if (!g || graph_validate(g, &err) || graph_infer(g, specs, ns, ref_eval_node, NULL, &err) ||
        (folded ? pipeline_grappler_bn_folded(g, RULE_TF, &log, &err) : pipeline_run("grappler", g, RULE_TF, &log, &err)) ||
        graphdef_save(g, argv[2], &err)) {
        fprintf(stderr, "%s\n", err.msg);
        if (g) graph_free(g);
        return err.code == ERR_RUNTIME ? 1 : 2;
    }
    printf("rules applied (%d)\n", log.total);
    graph_free(g);
    return 0;
}
