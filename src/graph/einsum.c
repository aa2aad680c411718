/* einsum.c - parses TensorFlow's Einsum equation against the inputs' shapes (einsum.h). */
#include "einsum.h"

#include <string.h>

/* one subscript: its named labels in order and where the ellipsis sits (-1: none) */
typedef struct Sub {
    int n;             /* named labels */
    unsigned char c[MAX_RANK + 1];
    int ell;           /* index in c before which the ellipsis stands, -1 = no ellipsis */
} Sub;

static int parse_sub(const char *p, size_t len, bool out, Sub *s, Err *err) {
    s->n = 0;
    s->ell = -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '.') {
            if (i + 2 >= len || p[i + 1] != '.' || p[i + 2] != '.') return err_set(err, ERR_INPUT, "'.' outside an ellipsis \"...\"");
            if (s->ell >= 0) return err_set(err, ERR_INPUT, "more than one ellipsis in a subscript");
            s->ell = s->n;
            i += 2;
            continue;
        }
        if (ch == '-' || ch == '>' || (ch == ',' && out))
            return err_set(err, ERR_INPUT, "unexpected '%c'", ch);
        if (s->n >= MAX_RANK) return err_set(err, ERR_INPUT, "a subscript has more than %d labels", MAX_RANK);
        s->c[s->n++] = ch;
    }
    return 0;
}

/* merges size d into the label's size: named labels must agree, ellipsis axes broadcast */
static int merge_size(EinsumSpec *s, int lab, int64_t d, int input, int axis, const Shape *sh, Err *err) {
    int64_t *cur = &s->size[lab];
    char buf[96];
    if (lab < s->n_named) {
        if (d < 0) return 0;
        if (*cur >= 0 && *cur != d)
            return err_set(err, ERR_INPUT, "label '%c': dimension %lld at axis %d of input %d shaped %s, expected %lld",
                           s->name[lab], (long long)d, axis, input, shape_str(sh, buf, sizeof buf), (long long)*cur);
        *cur = d;
        return 0;
    }
    if (d == 1 || d == *cur) return 0;
    if (d < 0) { /* unknown: 1 or the other size */
        if (*cur == 1) *cur = -1;
        return 0;
    }
    if (*cur == 1 || *cur < 0) {
        *cur = d;
        return 0;
    }
    return err_set(err, ERR_INPUT, "ellipsis dimensions do not broadcast: %lld vs %lld at axis %d of input %d shaped %s",
                   (long long)*cur, (long long)d, axis, input, shape_str(sh, buf, sizeof buf));
}

int einsum_parse(const char *eq, int n_in, const Shape *const *in, EinsumSpec *s, Err *err) {
    memset(s, 0, sizeof *s);
    if (!eq || !*eq) return err_set(err, ERR_INPUT, "Einsum needs an 'equation' attribute");
    const char *arrow = strstr(eq, "->");
    if (!arrow || strstr(arrow + 2, "->")) return err_set(err, ERR_INPUT, "expecting exactly one '->' in equation '%s'", eq);
    size_t lhs_len = (size_t)(arrow - eq);
    const char *comma = memchr(eq, ',', lhs_len);
    int n_sub = comma ? 2 : 1;
    if (comma && memchr(comma + 1, ',', lhs_len - (size_t)(comma + 1 - eq)))
        return err_set(err, ERR_INPUT, "expecting 1 or 2 input subscripts in equation '%s'", eq);
    if (n_sub != n_in) return err_set(err, ERR_INPUT, "equation '%s' has %d input subscript(s) but the node has %d input(s)", eq, n_sub, n_in);
    Sub sub[3];
    int rc = comma ? parse_sub(eq, (size_t)(comma - eq), false, &sub[0], err) ||
                         parse_sub(comma + 1, (size_t)(arrow - comma - 1), false, &sub[1], err)
                   : parse_sub(eq, lhs_len, false, &sub[0], err);
    if (rc || parse_sub(arrow + 2, strlen(arrow + 2), true, &sub[2], err)) return err_prefix(err, "equation '%s'", eq);
    s->n_in = n_in;

    int id_of[256];
    for (int i = 0; i < 256; i++) id_of[i] = -1;
    for (int k = 0; k < n_in; k++)
        for (int j = 0; j < sub[k].n; j++) {
            unsigned char ch = sub[k].c[j];
            if (id_of[ch] < 0) {
                id_of[ch] = s->n_labels;
                s->name[s->n_labels] = (char)ch;
                s->size[s->n_labels++] = -1;
            }
        }
    s->n_named = s->n_labels;
    /* ellipsis ranks and the broadcast ellipsis rank */
    int ell_rank[2] = {0, 0}, e_max = 0;
    for (int k = 0; k < n_in; k++) {
        if (in[k]->rank < 0) return err_set(err, ERR_INPUT, "input %d has unknown rank", k);
        int named = sub[k].n;
        if (sub[k].ell < 0 ? in[k]->rank != named : in[k]->rank < named)
            return err_set(err, ERR_INPUT, "equation '%s': expected input %d to have rank %s%d but got %d", eq, k,
                           sub[k].ell < 0 ? "" : "at least ", named, in[k]->rank);
        ell_rank[k] = in[k]->rank - named;
        if (ell_rank[k] > e_max) e_max = ell_rank[k];
    }
    for (int j = 0; j < e_max; j++) {
        s->name[s->n_labels] = '.';
        s->size[s->n_labels++] = 1;
    }
    for (int k = 0; k < n_in; k++) {
        s->in_rank[k] = in[k]->rank;
        int axis = 0;
        for (int j = 0; j <= sub[k].n; j++) {
            if (j == sub[k].ell)
                for (int e = 0; e < ell_rank[k]; e++, axis++)
                    s->in_lab[k][axis] = s->n_named + (e_max - ell_rank[k]) + e;
            if (j < sub[k].n) s->in_lab[k][axis++] = id_of[sub[k].c[j]];
        }
        for (int a = 0; a < s->in_rank[k]; a++) {
            int lab = s->in_lab[k][a];
            s->count[k][lab]++;
            if (merge_size(s, lab, in[k]->dim[a], k, a, in[k], err)) return err_prefix(err, "equation '%s'", eq);
        }
    }
    /* output */
    if (sub[2].ell < 0 && e_max > 0)
        return err_set(err, ERR_INPUT, "equation '%s': output contains %d broadcasting dimension(s) but no ellipsis", eq, e_max);
    int rank = sub[2].n + (sub[2].ell >= 0 ? e_max : 0);
    if (rank > MAX_RANK) return err_set(err, ERR_INPUT, "equation '%s': output rank %d exceeds %d", eq, rank, MAX_RANK);
    for (int j = 0; j <= sub[2].n; j++) {
        if (j == sub[2].ell)
            for (int e = 0; e < e_max; e++) s->out_lab[s->out_rank++] = s->n_named + e;
        if (j == sub[2].n) break;
        int id = id_of[sub[2].c[j]];
        if (id < 0) return err_set(err, ERR_INPUT, "equation '%s': output label '%c' is in no input", eq, sub[2].c[j]);
        s->out_lab[s->out_rank++] = id;
    }
    for (int a = 0; a < s->out_rank; a++) s->in_out[s->out_lab[a]] = true;
    return 0;
}

Shape einsum_out_shape(const EinsumSpec *s) {
    Shape out = shape_scalar();
    out.rank = s->out_rank;
    for (int a = 0; a < s->out_rank; a++) out.dim[a] = s->size[s->out_lab[a]];
    return out;
}

int64_t einsum_macs(const EinsumSpec *s) {
    int64_t m = 1;
    for (int l = 0; l < s->n_labels; l++) {
        if (s->size[l] < 0) return -1;
        if (s->size[l] && m > INT64_MAX / s->size[l]) return -1;
        m *= s->size[l];
    }
    return m;
}
