/* labels.c - the labels file parser (see labels.h). */
#include "labels.h"

#include <stdlib.h>
#include <string.h>

#include "input_file.h"

int labels_parse(const uint8_t *data, size_t len, const char *what, int32_t **labels, int *n, Err *err) {
    *labels = NULL;
    *n = 0;
    int cap = 0, count = 0;
    int32_t *out = NULL;
    size_t at = 0;
    for (int line = 1; at < len; line++) {
        size_t end = at;
        while (end < len && data[end] != '\n') end++;
        size_t a = at, b = end;
        if (b > a && data[b - 1] == '\r') b--;
        while (a < b && (data[a] == ' ' || data[a] == '\t')) a++;
        while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t')) b--;
        if (a == b) { free(out); return err_set(err, ERR_INPUT, "%s: line %d is empty (one integer class per line)", what, line); }
        long long v = 0;
        for (size_t i = a; i < b; i++) {
            if (data[i] < '0' || data[i] > '9' || v > LABELS_MAX_CLASS) {
                int shown = (int)(b - a > 40 ? 40 : b - a);
                char text[41];
                for (int k = 0; k < shown; k++) {
                    uint8_t ch = data[a + (size_t)k];
                    text[k] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
                }
                text[shown] = 0;
                free(out);
                if (data[i] >= '0' && data[i] <= '9')
                    return err_set(err, ERR_INPUT, "%s: line %d: class %s is too large", what, line, text);
                return err_set(err, ERR_INPUT, "%s: line %d: '%s' is not a class (a non-negative integer)", what, line, text);
            }
            v = v * 10 + (data[i] - '0');
        }
        if (v > LABELS_MAX_CLASS) { free(out); return err_set(err, ERR_INPUT, "%s: line %d: class %lld is too large", what, line, v); }
        if (count >= LABELS_MAX_ROWS) { free(out); return err_set(err, ERR_INPUT, "%s: more than %d labels", what, LABELS_MAX_ROWS); }
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            int32_t *grown = realloc(out, sizeof *out * (size_t)cap);
            if (!grown) { free(out); return err_set(err, ERR_RUNTIME, "%s: out of memory", what); }
            out = grown;
        }
        out[count++] = (int32_t)v;
        at = end + 1;
    }
    if (count == 0) return err_set(err, ERR_INPUT, "%s: no labels (one integer class per line)", what);
    *labels = out;
    *n = count;
    return 0;
}

int labels_load(const char *path, int32_t **labels, int *n, Err *err) {
    uint8_t *data;
    size_t len;
    *labels = NULL;
    *n = 0;
    if (read_input_file(path, (size_t)LABELS_MAX_ROWS * 12, &data, &len, err)) return -1;
    int rc = labels_parse(data, len, path, labels, n, err);
    free(data);
    return rc;
}
