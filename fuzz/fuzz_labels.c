/* fuzz_labels.c - libFuzzer target for the labels file parser: any input is refused with
 * ERR_INPUT, or gives 1.. rows of classes in [0, LABELS_MAX_CLASS] that, written back one per
 * line, parse to the same rows. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    int32_t *v, *u;
    int n, m;
    if (labels_parse(data, size, "fuzz", &v, &n, &err)) {
        if (err.code != ERR_INPUT && !strstr(err.msg, "out of memory")) abort();
        return 0;
    }
    if (n < 1 || !v) abort();
    char *text = malloc((size_t)n * 12 + 1);
    if (!text) abort();
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] > LABELS_MAX_CLASS) abort();
        len += (size_t)sprintf(text + len, "%d\n", (int)v[i]);
    }
    if (labels_parse((const uint8_t *)text, len, "fuzz-rewritten", &u, &m, &err) || m != n || memcmp(u, v, sizeof *v * (size_t)n)) abort();
    free(text);
    free(u);
    free(v);
    return 0;
}
