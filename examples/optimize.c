/* optimize.c - optimize a model through the C API and print the measured report:
 *     cc optimize.c $(pkg-config --cflags --libs grappo) -o optimize
 *     ./optimize model.pb model.opt.pb [search]                                   */
#include <grappo.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s IN.pb OUT.pb [search]\n", argv[0]); return 2; }
    grappo_model *m = NULL;
    grappo_options *o = NULL;
    grappo_result *r = NULL;
    char *json = NULL;
    int rc = grappo_model_load(argv[1], &m);
    if (!rc) rc = grappo_options_new(&o);
    if (!rc && argc > 3) rc = grappo_options_set(o, "search", argv[3]);
    if (!rc) rc = grappo_optimize(m, o, &r);
    if (!rc) rc = grappo_result_save(r, argv[2]);
    if (!rc) rc = grappo_result_json(r, &json);
    if (rc) fprintf(stderr, "grappo: %s\n", grappo_errmsg());
    else printf("%s\n%s: %s\n", json, argv[2], grappo_result_kept(r) ? "optimized" : "input kept");
    grappo_free(json);
    grappo_result_free(r);
    grappo_options_free(o);
    grappo_model_free(m);
    return rc;
}
