#include <grappo.h>
#include <stdio.h>
int main(int argc, char **argv) {
    grappo_model *m = NULL;
    if (grappo_model_load(argv[1], &m) != 0) { fprintf(stderr, "load: %s\n", grappo_errmsg()); return 1; }
    printf("loaded %s\n", argv[1]);
    grappo_model_free(m);
    return 0;
}
