/* cmd_zoo.c - `grappo zoo NAME -o FILE.pb` and `grappo zoo --list`. */
#include <cjson/cJSON.h>
#include <string.h>

#include "cli.h"

static void help(void) {
    printf("usage: grappo zoo NAME -o FILE.pb [--seed S] [--batch N] [--image-size N] [--seq N] [--no-calibrate]\n"
           "       grappo zoo --list [--json]\n"
           "\n"
           "Writes a benchmark model as a frozen TensorFlow GraphDef with deterministic weights.\n"
           "  --seed S          weights seed (default 1)\n"
           "  --batch N         static batch in the input shapes (default: dynamic, -1)\n"
           "  --image-size N    CNN input size (default per model)\n"
           "  --seq N           BERT sequence length (default 128)\n"
           "  --no-calibrate    skip batch-norm calibration (faster; statistics then random)\n");
}

static int list(bool json) {
    int count;
    const ZooModel *m = zoo_list(&count);
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < count; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", m[i].name);
            cJSON_AddStringToObject(o, "description", m[i].description);
            cJSON_AddItemToArray(arr, o);
        }
        char *s = cJSON_Print(arr);
        printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(arr);
        return EXIT_OK;
    }
    for (int i = 0; i < count; i++) printf("%-14s %s\n", m[i].name, m[i].description);
    return EXIT_OK;
}

int cmd_zoo(int argc, char **argv) {
    Args a = {argc, argv, 1, "zoo"};
    const char *name = NULL, *out = NULL, *v;
    bool do_list = false, json = false, bad = false;
    ZooOpts o = zoo_opts_default();
    long long x;
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_flag(&a, "--list")) do_list = true;
        else if (arg_flag(&a, "--json")) json = true;
        else if (arg_flag(&a, "--no-calibrate")) o.calibrate = false;
        else if (arg_opt(&a, "-o", &out, &bad) || arg_opt(&a, "--output", &out, &bad)) {}
        else if (arg_opt(&a, "--seed", &v, &bad)) { if (bad || !parse_int("zoo", "--seed", v, 0, (1LL << 62), &x)) return EXIT_USAGE; o.seed = (uint64_t)x; }
        else if (arg_opt(&a, "--batch", &v, &bad)) { if (bad || !parse_int("zoo", "--batch", v, 1, 4096, &x)) return EXIT_USAGE; o.batch = (int)x; }
        else if (arg_opt(&a, "--image-size", &v, &bad)) { if (bad || !parse_int("zoo", "--image-size", v, 8, 4096, &x)) return EXIT_USAGE; o.image_size = (int)x; }
        else if (arg_opt(&a, "--seq", &v, &bad)) { if (bad || !parse_int("zoo", "--seq", v, 1, 512, &x)) return EXIT_USAGE; o.seq_len = (int)x; }
        else if (argv[a.i][0] == '-') return cli_usage_error("zoo", "unknown option '%s'", argv[a.i]);
        else if (!name) name = argv[a.i];
        else return cli_usage_error("zoo", "unexpected argument '%s'", argv[a.i]);
        if (bad) return EXIT_USAGE;
    }
    if (do_list) return list(json);
    if (!name) return cli_usage_error("zoo", "which model? (grappo zoo --list)");
    if (!out) return cli_usage_error("zoo", "missing -o FILE.pb");
    Err err = {0};
    Graph *g = zoo_build(name, &o, &err);
    if (!g) return cli_fail(&err);
    int rc = graphdef_save(g, out, &err);
    if (rc) { graph_free(g); return cli_fail(&err); }
    int64_t pbytes, params = graph_param_count(g, &pbytes);
    char b1[32], b2[32];
    if (json) {
        cJSON *o2 = cJSON_CreateObject();
        cJSON_AddStringToObject(o2, "model", name);
        cJSON_AddStringToObject(o2, "file", out);
        cJSON_AddNumberToObject(o2, "nodes", g->n_nodes);
        cJSON_AddNumberToObject(o2, "parameters", (double)params);
        cJSON_AddNumberToObject(o2, "flops", (double)graph_flops(g));
        char *s = cJSON_Print(o2);
        printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(o2);
    } else {
        printf("wrote %s: %s, %d nodes, %s parameters, %s FLOPs\n", out, name, g->n_nodes, fmt_count((double)params, b1, sizeof b1),
               fmt_count((double)graph_flops(g), b2, sizeof b2));
    }
    graph_free(g);
    return EXIT_OK;
}
