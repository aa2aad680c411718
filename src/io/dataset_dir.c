/* dataset_dir.c - a directory of images or .npy batches as input batches (see dataset_dir.h). */
#include "dataset_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../graph/op.h"
#include "../rewrite/calibrate.h"

#define DATASET_MAX_FILES 10000000

typedef struct NameList { char **v; int n, cap; } NameList;

static void names_free(NameList *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    *l = (NameList){0};
}

static int names_add(NameList *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **g = realloc(l->v, sizeof *g * (size_t)cap);
        if (!g) return -1;
        l->v = g;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool ends_with_npy(const char *name) {
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".npy");
}

/* the regular files of dir: images (sorted) and the count of .npy files */
static int scan_dir(const char *dir, const char *role, NameList *images, int *n_npy, Err *err) {
    DIR *d = opendir(dir);
    if (!d) return err_set(err, ERR_INPUT, "%s directory '%s': %s", role, dir, strerror(errno));
    *n_npy = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        bool img = image_kind_of_name(e->d_name) != NULL, npy = ends_with_npy(e->d_name);
        if (!img && !npy) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) || !S_ISREG(st.st_mode)) continue;
        if (images->n + *n_npy >= DATASET_MAX_FILES) { closedir(d); return err_set(err, ERR_INPUT, "%s directory '%s': too many files", role, dir); }
        if (npy) (*n_npy)++;
        else if (names_add(images, e->d_name)) { closedir(d); return err_set(err, ERR_RUNTIME, "out of memory"); }
    }
    closedir(d);
    if (images->n > 1) qsort(images->v, (size_t)images->n, sizeof *images->v, cmp_names);
    return 0;
}

/* the graph's single image input: its node, and N, H, W, C of its inferred shape */
static int image_input(const Graph *g, const ImagePrep *prep, const char *role, const char *dir, int *node, int dims[4], Err *err) {
    *node = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
        if (*node >= 0)
            return err_set(err, ERR_INPUT, "%s directory '%s' holds images, but the model has several inputs ('%s', '%s'): give <input>_<k>.npy batches",
                           role, dir, g->nodes[*node]->name, g->nodes[i]->name);
        *node = i;
    }
    if (*node < 0) return err_set(err, ERR_INPUT, "%s: the model has no inputs", role);
    const Value *v = &g->nodes[*node]->outputs[0];
    if (v->shape.rank != 4 || !shape_is_known(&v->shape) || !dtype_is_float(v->dtype))
        return err_set(err, ERR_INPUT, "%s directory '%s' holds images, but the model's input '%s' is not a float tensor of rank 4 (batch, height, width, channels)",
                       role, dir, g->nodes[*node]->name);
    const int64_t *s = v->shape.dim;
    bool nchw = prep->layout == IMAGE_NCHW;
    int64_t n = s[0], h = nchw ? s[2] : s[1], w = nchw ? s[3] : s[2], c = nchw ? s[1] : s[3];
    if (c != 1 && c != 3 && c != 4) {
        char buf[96];
        return err_set(err, ERR_INPUT, "%s: the model's input '%s' %s has %lld channels in %s layout; images have 1, 3 or 4 (--layout nhwc|nchw)",
                       role, g->nodes[*node]->name, shape_str(&v->shape, buf, sizeof buf), (long long)c, nchw ? "NCHW" : "NHWC");
    }
    if (n < 1 || n > 4096 || h > IMAGE_MAX_SIDE || w > IMAGE_MAX_SIDE) return err_set(err, ERR_INPUT, "%s: the model's input '%s' has an unusable shape", role, g->nodes[*node]->name);
    dims[0] = (int)n;
    dims[1] = (int)h;
    dims[2] = (int)w;
    dims[3] = (int)c;
    return 0;
}

static int load_images(const Graph *g, const char *dir, const NameList *names, const ImagePrep *prep, const char *role,
                       RefFeed ***batches, int *n_batches, Err *err) {
    int node, d[4] = {0};
    if (image_input(g, prep, role, dir, &node, d, err)) return -1;
    const Value *v = &g->nodes[node]->outputs[0];
    int bs = d[0], nb = (names->n + bs - 1) / bs;
    size_t per_image = (size_t)d[1] * (size_t)d[2] * (size_t)d[3];
    RefFeed **b = calloc((size_t)nb + 1, sizeof *b);
    float *one = malloc(sizeof *one * per_image);
    if (!b || !one) { free(b); free(one); return err_set(err, ERR_RUNTIME, "out of memory"); }
    char path[4096];
    Image im = {0};
    for (int k = 0; k < nb; k++) {
        b[k] = calloc(2, sizeof *b[k]);
        if (!b[k] || !(b[k][0].name = strdup(g->nodes[node]->name))) { err_set(err, ERR_RUNTIME, "out of memory"); goto fail; }
        if (tensor_alloc(&b[k][0].value, v->dtype, &v->shape, err)) goto fail;
        Tensor *t = &b[k][0].value;
        for (int r = 0; r < bs; r++) {
            int i = k * bs + r;
            if (i < names->n) {
                snprintf(path, sizeof path, "%s/%s", dir, names->v[i]);
                if (image_load(path, &im, err) || image_preprocess(&im, prep, d[1], d[2], d[3], one, path, err)) {
                    image_free(&im);
                    goto fail;
                }
                image_free(&im);
            } /* else: the last image again (already in `one`) */
            if (v->dtype == DT_FLOAT) memcpy((float *)tensor_mut(t) + (size_t)r * per_image, one, sizeof *one * per_image);
            else
                for (size_t e = 0; e < per_image; e++) tensor_set(t, (int64_t)((size_t)r * per_image + e), one[e]);
        }
    }
    free(one);
    *batches = b;
    *n_batches = nb;
    return 0;
fail:
    free(one);
    calib_batches_free(b, nb, 1);
    return -1;
}

int dataset_load_batches(const Graph *g, const char *dir, const ImagePrep *prep, const char *role, RefFeed ***batches,
                         int *n_batches, int *n_feeds, int *n_rows, Err *err) {
    *batches = NULL;
    *n_batches = *n_feeds = 0;
    *n_rows = -1;
    if (image_prep_check(prep, err)) return -1;
    NameList images = {0};
    int n_npy = 0;
    if (scan_dir(dir, role, &images, &n_npy, err)) { names_free(&images); return -1; }
    int rc;
    if (images.n && n_npy) {
        rc = err_set(err, ERR_INPUT, "%s directory '%s' holds both images (%d) and .npy files (%d): use one kind", role, dir, images.n, n_npy);
    } else if (images.n) {
        rc = load_images(g, dir, &images, prep, role, batches, n_batches, err);
        if (!rc) { *n_feeds = 1; *n_rows = images.n; }
    } else if (n_npy) {
        rc = calib_batches_load(g, dir, batches, n_batches, n_feeds, err);
    } else {
        rc = err_set(err, ERR_INPUT, "%s directory '%s' has no images (*.png, *.jpg, *.jpeg) and no <input>_<k>.npy batches", role, dir);
    }
    names_free(&images);
    return rc;
}

int dataset_load_inputs(const Graph *g, const char *dir, const ImagePrep *prep, const char *role, InputSet *out, int *n_rows,
                        Err *err) {
    *out = (InputSet){0};
    RefFeed **b;
    int nb, nf;
    if (dataset_load_batches(g, dir, prep, role, &b, &nb, &nf, n_rows, err)) return -1;
    /* names: the graph's own (an InputSet borrows them), in the same placeholder order */
    for (int k = 0; k < nb; k++) {
        int f = 0;
        for (int i = 0; i < g->n_nodes && f < nf; i++) {
            if (g->nodes[i]->op != OP_PLACEHOLDER) continue;
            if (nf == 1 && strcmp(b[k][0].name, g->nodes[i]->name)) continue;
            free((char *)b[k][f].name);
            b[k][f].name = g->nodes[i]->name;
            f++;
        }
    }
    out->feeds = b;
    out->n_batches = nb;
    out->n_feeds = nf;
    return 0;
}
