/* policy_io.c - policy files (the format is in policy.h): serialisation to one buffer written
 * atomically, a bounds-checked reader that names what is wrong with a bad file, and the
 * FNV-1a fingerprint of the parameters. Everything is little-endian whatever the host. */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../util/hash.h"

static const char MAGIC[8] = {'G', 'R', 'P', 'O', 'L', 'I', 'C', 'Y'};
#define MAX_NAME_LEN 255 /* policy_new's limit on a rule name */
#define N_CONFIG_I32 6   /* PolicyConfig's fields, in declaration order */


static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

uint64_t policy_fingerprint(const Policy *p) {
    const float *w = policy_params_const(p);
    size_t n = policy_n_params(p);
    uint64_t h = FNV1A_OFFSET;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = float_bits(w[i]);
        uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        h = fnv1a64(h, b, 4);
    }
    return h;
}

/* ---- writing ------------------------------------------------------------------------------- */

typedef struct Out { uint8_t *p; size_t n; } Out;

static void put_bytes(Out *o, const void *src, size_t n) {
    if (n) memcpy(o->p + o->n, src, n);
    o->n += n;
}
static void put_u32(Out *o, uint32_t v) {
    for (int i = 0; i < 4; i++) o->p[o->n++] = (uint8_t)(v >> (8 * i));
}
static void put_u64(Out *o, uint64_t v) {
    for (int i = 0; i < 8; i++) o->p[o->n++] = (uint8_t)(v >> (8 * i));
}

static void config_fields(const PolicyConfig *c, int32_t f[N_CONFIG_I32]) {
    f[0] = c->feat_dim;
    f[1] = c->features_version;
    f[2] = c->n_rules;
    f[3] = c->hidden;
    f[4] = c->rounds;
    f[5] = c->head_hidden;
}

int policy_save(const Policy *p, const char *path, const void *extra, size_t extra_len, Err *err) {
    if (!p || !path) return err_set(err, ERR_INPUT, "policy_save: no policy or path");
    if (extra_len > 0 && !extra) return err_set(err, ERR_INPUT, "policy_save: %zu extra bytes but no pointer", extra_len);
    const PolicyConfig *c = policy_config(p);
    size_t n_params = policy_n_params(p);
    size_t size = sizeof MAGIC + 4 + 4 + 4 * N_CONFIG_I32 + 4;
    for (int i = 0; i < c->n_rules; i++) size += 4 + strlen(policy_rule_name(p, i));
    int n_ops = 0;
    const char *const *ops = policy_op_layout(p, &n_ops);
    size += 4;
    for (int i = 0; i < n_ops; i++) size += 4 + strlen(ops[i]);
    size += 8 + 4 * n_params + 8 + extra_len + 8;
    Out o = {malloc(size), 0};
    if (!o.p) return err_set(err, ERR_RUNTIME, "policy_save %s: out of memory (%zu bytes)", path, size);
    put_bytes(&o, MAGIC, sizeof MAGIC);
    put_u32(&o, POLICY_FORMAT_VERSION);
    put_u32(&o, (uint32_t)c->features_version);
    int32_t f[N_CONFIG_I32];
    config_fields(c, f);
    for (int i = 0; i < N_CONFIG_I32; i++) put_u32(&o, (uint32_t)f[i]);
    put_u32(&o, (uint32_t)c->n_rules);
    for (int i = 0; i < c->n_rules; i++) {
        const char *name = policy_rule_name(p, i);
        size_t len = strlen(name);
        put_u32(&o, (uint32_t)len);
        put_bytes(&o, name, len);
    }
    put_u32(&o, (uint32_t)n_ops);
    for (int i = 0; i < n_ops; i++) {
        size_t len = strlen(ops[i]);
        put_u32(&o, (uint32_t)len);
        put_bytes(&o, ops[i], len);
    }
    put_u64(&o, n_params);
    const float *w = policy_params_const(p);
    for (size_t i = 0; i < n_params; i++) put_u32(&o, float_bits(w[i]));
    put_u64(&o, extra_len);
    put_bytes(&o, extra, extra_len);
    put_u64(&o, fnv1a64(FNV1A_OFFSET, o.p, o.n));
    int rc = atomic_write_file(path, o.p, o.n, err);
    free(o.p);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------- */

/* a cursor over the file's bytes */
typedef struct In { const uint8_t *p; size_t n, at; } In;

static bool has(const In *in, size_t k) { return in->n - in->at >= k; }
static uint32_t get_u32(In *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)in->p[in->at + i] << (8 * i);
    in->at += 4;
    return v;
}
static uint64_t get_u64(In *in) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)in->p[in->at + i] << (8 * i);
    in->at += 8;
    return v;
}

/* the parsed file, pointing into the buffer */
typedef struct Parsed {
    PolicyConfig cfg;
    char *names[POLICY_MAX_RULES];
    char **ops;       /* format 2: the op layout (n_ops names) */
    uint32_t n_ops;
    uint64_t n_params;
    size_t params_at;
    uint64_t extra_len;
    size_t extra_at;
} Parsed;

static void parsed_free(Parsed *r) {
    for (int i = 0; i < POLICY_MAX_RULES; i++) free(r->names[i]);
    for (uint32_t i = 0; r->ops && i < r->n_ops; i++) free(r->ops[i]);
    free(r->ops);
}

/* one name (u32 length + bytes, 1..MAX_NAME_LEN, no NUL) into *out (malloc'd) */
static int get_name(In *in, const char *what, uint32_t i, char **out, Err *err) {
    if (!has(in, 4)) return err_set(err, ERR_INPUT, "truncated: the file ends after %zu bytes, inside %s", in->n, what);
    uint32_t len = get_u32(in);
    if (len == 0 || len > MAX_NAME_LEN) return err_set(err, ERR_INPUT, "corrupt: %s %u has length %u (1..%d)", what, i, len, MAX_NAME_LEN);
    if (!has(in, len)) return err_set(err, ERR_INPUT, "truncated: the file ends after %zu bytes, inside %s", in->n, what);
    if (memchr(in->p + in->at, 0, len)) return err_set(err, ERR_INPUT, "corrupt: %s %u contains a NUL", what, i);
    *out = malloc(len + 1);
    if (!*out) return err_set(err, ERR_RUNTIME, "out of memory");
    memcpy(*out, in->p + in->at, len);
    (*out)[len] = 0;
    in->at += len;
    return 0;
}

#define NEED(k, what)                                                                                 \
    do {                                                                                              \
        if (!has(in, (k)))                                                                            \
            return err_set(err, ERR_INPUT, "truncated: the file ends after %zu bytes, inside %s", in->n, \
                           what);                                                                     \
    } while (0)

/* everything after the version: the structure, with every length bounded by what is left */
static int parse_body(In *in, uint32_t version, Parsed *r, Err *err) {
    NEED(4 + 4 * N_CONFIG_I32, "the header");
    uint32_t features_version = get_u32(in);
    int32_t f[N_CONFIG_I32];
    for (int i = 0; i < N_CONFIG_I32; i++) f[i] = (int32_t)get_u32(in);
    r->cfg = (PolicyConfig){.feat_dim = f[0], .features_version = f[1], .n_rules = f[2], .hidden = f[3],
                            .rounds = f[4], .head_hidden = f[5]};
    if ((int32_t)features_version != r->cfg.features_version)
        return err_set(err, ERR_INPUT, "corrupt: features version %u in the header but %d in the configuration",
                       features_version, r->cfg.features_version);
    size_t expect_params = policy_config_n_params(&r->cfg);
    if (expect_params == 0)
        return err_set(err, ERR_INPUT,
                       "corrupt: configuration out of range (feat_dim %d, rules %d, hidden %d, rounds %d, head %d)",
                       r->cfg.feat_dim, r->cfg.n_rules, r->cfg.hidden, r->cfg.rounds, r->cfg.head_hidden);
    NEED(4, "the rule count");
    uint32_t n_rules = get_u32(in);
    if (n_rules != (uint32_t)r->cfg.n_rules)
        return err_set(err, ERR_INPUT, "corrupt: %u rule names for a configuration with %d rules", n_rules,
                       r->cfg.n_rules);
    for (uint32_t i = 0; i < n_rules; i++) {
        NEED(4, "a rule name");
        uint32_t len = get_u32(in);
        if (len == 0 || len > MAX_NAME_LEN)
            return err_set(err, ERR_INPUT, "corrupt: rule name %u has length %u (1..%d)", i, len, MAX_NAME_LEN);
        NEED(len, "a rule name");
        if (memchr(in->p + in->at, 0, len)) return err_set(err, ERR_INPUT, "corrupt: rule name %u contains a NUL", i);
        r->names[i] = malloc(len + 1);
        if (!r->names[i]) return err_set(err, ERR_RUNTIME, "out of memory");
        memcpy(r->names[i], in->p + in->at, len);
        r->names[i][len] = 0;
        in->at += len;
    }
    if (version >= 2) {
        NEED(4, "the op count");
        r->n_ops = get_u32(in);
        if (r->n_ops >= (uint32_t)r->cfg.feat_dim)
            return err_set(err, ERR_INPUT, "corrupt: %u op columns for a feature width of %d", r->n_ops, r->cfg.feat_dim);
        r->ops = calloc((size_t)r->n_ops + 1, sizeof *r->ops);
        if (!r->ops) return err_set(err, ERR_RUNTIME, "out of memory");
        for (uint32_t i = 0; i < r->n_ops; i++)
            if (get_name(in, "op name", i, &r->ops[i], err)) return -1;
    }
    NEED(8, "the parameter count");
    r->n_params = get_u64(in);
    if (r->n_params != expect_params)
        return err_set(err, ERR_INPUT, "corrupt: %llu parameters for a configuration that has %zu",
                       (unsigned long long)r->n_params, expect_params);
    /* n_params is bounded by the configuration limits; the file must also really hold them */
    NEED(4 * (size_t)r->n_params, "the parameters");
    r->params_at = in->at;
    in->at += 4 * (size_t)r->n_params;
    NEED(8, "the extra length");
    r->extra_len = get_u64(in);
    if (r->extra_len > in->n - in->at)
        return err_set(err, ERR_INPUT, "truncated: the file ends after %zu bytes, inside %llu extra bytes", in->n,
                       (unsigned long long)r->extra_len);
    r->extra_at = in->at;
    in->at += (size_t)r->extra_len;
    NEED(8, "the checksum");
    return 0;
}

Policy *policy_load(const char *path, void **extra, size_t *extra_len, Err *err) {
    if (extra) *extra = NULL;
    if (extra_len) *extra_len = 0;
    if (!path) { err_set(err, ERR_INPUT, "policy_load: no path"); return NULL; }
    uint8_t *data = NULL;
    size_t len = 0;
    if (read_file_bytes(path, &data, &len, err)) return NULL;
    Policy *p = NULL;
    Parsed r;
    memset(&r, 0, sizeof r);
    In in_ = {data, len, 0}, *in = &in_;

    /* foreign before truncated: a short file that is not a prefix of the magic is foreign */
    size_t m = len < sizeof MAGIC ? len : sizeof MAGIC;
    if (m > 0 && memcmp(data, MAGIC, m) != 0) {
        err_set(err, ERR_INPUT, "not a grappo policy file (bad magic)");
        goto fail;
    }
    if (len < sizeof MAGIC + 4) {
        err_set(err, ERR_INPUT, "truncated: the file ends after %zu bytes, inside the header", len);
        goto fail;
    }
    in->at = sizeof MAGIC;
    uint32_t version = get_u32(in);
    if (version < 1 || version > POLICY_FORMAT_VERSION) {
        err_set(err, ERR_INPUT, "policy format version %u, this build reads versions 1 to %d", version, POLICY_FORMAT_VERSION);
        goto fail;
    }
    if (parse_body(in, version, &r, err)) goto fail;
    size_t body = in->at;
    uint64_t stored = get_u64(in);
    if (in->at != len) {
        err_set(err, ERR_INPUT, "corrupt: %zu bytes after the checksum", len - in->at);
        goto fail;
    }
    if (fnv1a64(FNV1A_OFFSET, data, body) != stored) {
        err_set(err, ERR_INPUT, "corrupt: checksum mismatch (the file was damaged)");
        goto fail;
    }
    p = policy_new(&r.cfg, (const char *const *)r.names, 0, err);
    if (!p) goto fail;
    if (r.ops && policy_set_op_layout(p, (const char *const *)r.ops, (int)r.n_ops, err)) {
        policy_free(p);
        p = NULL;
        goto fail;
    }
    float *w = policy_params(p);
    for (size_t i = 0; i < (size_t)r.n_params; i++) {
        in->at = r.params_at + 4 * i;
        uint32_t u = get_u32(in);
        memcpy(&w[i], &u, 4);
    }
    if (extra && r.extra_len > 0) {
        *extra = malloc((size_t)r.extra_len);
        if (!*extra) {
            err_set(err, ERR_RUNTIME, "out of memory for %llu extra bytes", (unsigned long long)r.extra_len);
            policy_free(p);
            p = NULL;
            goto fail;
        }
        memcpy(*extra, data + r.extra_at, (size_t)r.extra_len);
    }
    if (extra_len) *extra_len = (size_t)r.extra_len;
    parsed_free(&r);
    free(data);
    return p;
fail:
    err_prefix(err, "policy file %s", path);
    parsed_free(&r);
    free(data);
    return NULL;
}
