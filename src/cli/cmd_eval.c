/* cmd_eval.c - `grappo eval MODEL --eval DIR --labels FILE`: top-1/top-5 of a classifier on the
 * user's labelled data (the library's labelled_evaluate; the same data options as optimize). */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "cli.h"

#define MAX_SPECS 64

static void help(void) {
    printf("usage: grappo eval MODEL --eval DIR --labels FILE [--resize H,W] [--mean A,B,C] [--std A,B,C]\n"
           "                  [--layout nhwc|nchw] [--input-shape NAME=D,...] [--threads N] [--json]\n"
           "\n"
           "Runs MODEL (frozen .pb, SavedModel directory, model.json or zoo:NAME) on the fast runtime over\n"
           "the images or .npy batches of DIR and prints top-1 and top-5 of its classifier output (the\n"
           "first [rows, classes] float output) against the labels. --json prints them as JSON.\n");
    fputs(cli_data_opts_help(), stdout);
}

int cmd_eval(int argc, char **argv) {
    Args a = {argc, argv, 1, "eval"};
    OptimizeOpts o = optimize_opts_default();
    const char *model = NULL, *v;
    long long threads = o.threads;
    bool bad = false, json = false;
    InputSpec specs[MAX_SPECS];
    int n_specs = 0, rc = EXIT_OK;
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_flag(&a, "--json")) json = true;
        else if (cli_data_opt(&a, &o, &bad)) {}
        else if (arg_opt(&a, "--threads", &v, &bad)) { if (bad || !parse_int("eval", "--threads", v, 0, 1024, &threads)) bad = true; }
        else if (arg_opt(&a, "--input-shape", &v, &bad)) {
            if (bad || n_specs == MAX_SPECS || !parse_input_shape("eval", v, &specs[n_specs])) bad = true;
            else n_specs++;
        } else if (argv[a.i][0] == '-') { rc = cli_usage_error("eval", "unknown option '%s'", argv[a.i]); goto done; }
        else if (model) { rc = cli_usage_error("eval", "one model only (got '%s' and '%s')", model, argv[a.i]); goto done; }
        else model = argv[a.i];
        if (bad) { rc = EXIT_USAGE; goto done; }
    }
    if (!model) { rc = cli_usage_error("eval", "which model? (grappo eval MODEL --eval DIR --labels FILE)"); goto done; }
    if (!o.eval_dir || !o.labels_path) { rc = cli_usage_error("eval", "--eval DIR and --labels FILE are both needed"); goto done; }
    o.threads = (int)threads;
    Err err = {0};
    Graph *g = cli_load_model(model, &err);
    if (!g) { rc = cli_fail(&err); goto done; }
    if (cli_prepare(g, specs, n_specs, &err)) {
        err_prefix(&err, "%s", model);
        rc = cli_fail(&err);
        graph_free(g);
        goto done;
    }
    LabelledScore s;
    bool images;
    if (labelled_evaluate(g, &o, &s, &images, &err)) {
        rc = cli_fail(&err);
        graph_free(g);
        goto done;
    }
    graph_free(g);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", model);
        cJSON_AddStringToObject(j, "eval", o.eval_dir);
        cJSON_AddStringToObject(j, "labels", o.labels_path);
        cJSON_AddStringToObject(j, "rows_are", images ? "images" : "npy_rows");
        cJSON_AddNumberToObject(j, "rows", s.rows);
        cJSON_AddNumberToObject(j, "classes", s.classes);
        cJSON_AddNumberToObject(j, "top1", s.top1);
        if (s.top5 >= 0) cJSON_AddNumberToObject(j, "top5", s.top5);
        else cJSON_AddNullToObject(j, "top5");
        char *text = cJSON_Print(j);
        if (text) printf("%s\n", text);
        free(text);
        cJSON_Delete(j);
    } else {
        char top5[48];
        if (s.top5 >= 0) snprintf(top5, sizeof top5, "%.2f%%", 100 * s.top5);
        else snprintf(top5, sizeof top5, "n/a (%d classes)", s.classes);
        printf("top-1 %.2f%%, top-5 %s on %d labelled %s (%d classes)\n", 100 * s.top1, top5, s.rows, images ? "images" : "rows",
               s.classes);
    }
done:
    for (int k = 0; k < n_specs; k++) free((char *)specs[k].name);
    return rc;
}
