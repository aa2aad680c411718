/* test_policy.c - the policy network (src/search/policy.c, policy_io.c): whole-network gradient
 * against finite differences in every parameter tensor, invariance to node order, determinism,
 * near-uniform initial logits, malformed observations, save/load round trips and every kind of
 * bad policy file, and a timing sanity check at the size of a large graph. */
#include "testutil.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "search/policy.h"
#include "util/rng.h"

enum { FEAT = 5, N_RULES = 4, NN = 6, NE = 7, NA = 5 };
static const char *const RULE_NAMES[N_RULES] = {"fuse_conv_bias", "fold_bn", "quant_int8", "layout_nhwc"};

/* the small observation: 6 nodes, 7 edges, 5 actions (one STOP, one site with 3 nodes) */
typedef struct Small {
    float x[NN * FEAT];
    int src[NE], dst[NE];
    PolicyAction actions[NA];
    PolicyObs obs;
} Small;

static void small_make(Small *s, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < NN * FEAT; i++) s->x[i] = (float)rng_normal(&r);
    const int src[NE] = {0, 0, 1, 2, 3, 3, 4}, dst[NE] = {1, 2, 3, 3, 4, 5, 5};
    memcpy(s->src, src, sizeof src);
    memcpy(s->dst, dst, sizeof dst);
    memset(s->actions, 0, sizeof s->actions);
    s->actions[0] = (PolicyAction){.rule = 0, .n = 1, .nodes = {1}};
    s->actions[1] = (PolicyAction){.rule = 1, .n = 3, .nodes = {3, 1, 2}};
    s->actions[2] = (PolicyAction){.rule = 2, .n = 2, .nodes = {4, 3}};
    s->actions[3] = (PolicyAction){.rule = 3, .n = 1, .nodes = {5}};
    s->actions[4] = (PolicyAction){.rule = N_RULES, .n = 0}; /* STOP */
    s->obs = (PolicyObs){.n_nodes = NN, .x = s->x, .n_edges = NE, .edge_src = s->src, .edge_dst = s->dst,
                         .w = {0.5f, 0.3f, 0.2f}, .global = {0.1f, -0.4f, 1.0f, 0.7f}, .n_actions = NA,
                         .actions = s->actions};
}

static Policy *make_policy(uint64_t seed) {
    Err e = {0};
    PolicyConfig cfg = policy_config_default(FEAT, 1, N_RULES);
    Policy *p = policy_new(&cfg, RULE_NAMES, seed, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    return p;
}

static int find_tensor(const Policy *p, const char *name) {
    for (int t = 0; t < policy_n_tensors(p); t++)
        if (strcmp(policy_tensor(p, t)->name, name) == 0) return t;
    print_error("no tensor %s\n", name);
    fail();
    return -1;
}

/* L = sum_a c_a logit_a + cv V, accumulated in double */
static double loss(const Policy *p, const PolicyObs *o, PolicyCache *c, const float *ca, float cv) {
    float logits[64], v;
    Err e = {0};
    CHECK_OK(policy_forward(p, o, c, logits, &v, &e), &e);
    double s = (double)cv * v;
    for (int a = 0; a < o->n_actions; a++) s += (double)ca[a] * logits[a];
    return s;
}

static void test_layout(void **st) {
    (void)st;
    Policy *p = make_policy(1);
    const PolicyConfig *cfg = policy_config(p);
    /* tensors tile [0, n_params) in order with no gaps, and the closed-form count agrees */
    size_t off = 0;
    for (int t = 0; t < policy_n_tensors(p); t++) {
        const PolicyTensor *pt = policy_tensor(p, t);
        assert_int_equal(pt->offset, off);
        off += (size_t)pt->rows * pt->cols;
    }
    assert_int_equal(off, policy_n_params(p));
    assert_int_equal(policy_config_n_params(cfg), policy_n_params(p));
    assert_null(policy_tensor(p, policy_n_tensors(p)));
    /* 2 embed + 4 per round + 12 in the heads */
    assert_int_equal(policy_n_tensors(p), 2 + 4 * 3 + 12);
    int H = 32, Q = 64, C = 2 * H + POLICY_W_DIM + POLICY_GLOBAL_DIM;
    size_t want = (size_t)H * FEAT + H + 3 * (3 * H * H + H) + (N_RULES + 1) * H + 3 * Q * H + Q * C + 2 * Q + 1 +
                  Q * C + 2 * Q + 1;
    assert_int_equal(policy_n_params(p), want);
    assert_int_equal(policy_tensor(p, find_tensor(p, "rule_emb"))->rows, N_RULES + 1);
    /* biases start at zero */
    const float *w = policy_params_const(p);
    const char *biases[] = {"embed.b", "round0.b", "round2.b", "ptr.b1", "ptr.b2", "value.b1", "value.b2"};
    for (size_t i = 0; i < sizeof biases / sizeof *biases; i++) {
        const PolicyTensor *pt = policy_tensor(p, find_tensor(p, biases[i]));
        for (int k = 0; k < pt->rows * pt->cols; k++) assert_true(w[pt->offset + k] == 0.0f);
    }
    /* rule names and STOP */
    assert_int_equal(policy_rule_index(p, "quant_int8"), 2);
    assert_int_equal(policy_rule_index(p, "nope"), -1);
    assert_string_equal(policy_rule_name(p, 1), "fold_bn");
    assert_string_equal(policy_rule_name(p, N_RULES), "STOP");
    assert_null(policy_rule_name(p, N_RULES + 1));
    assert_null(policy_rule_name(p, -1));
    /* bad configurations */
    Err e = {0};
    PolicyConfig bad = *cfg;
    bad.hidden = 0;
    assert_null(policy_new(&bad, RULE_NAMES, 1, &e));
    assert_int_equal(e.code, ERR_INPUT);
    assert_int_equal(policy_config_n_params(&bad), 0);
    bad = *cfg;
    bad.n_rules = POLICY_MAX_RULES + 1;
    assert_null(policy_new(&bad, RULE_NAMES, 1, &e));
    assert_int_equal(e.code, ERR_INPUT);
    policy_free(p);
}

/* the whole network against central differences, a few elements of EVERY tensor */
static void test_gradient(void **st) {
    (void)st;
    Small s;
    small_make(&s, 11);
    Policy *p = make_policy(5);
    float *w = policy_params(p);
    /* the init scales the pointer's last layer by 0.01; at that scale the logit gradients of the
       layers below are ~1e-3 and drown in float rounding, so the check uses a full-size q2 */
    const PolicyTensor *q2 = policy_tensor(p, find_tensor(p, "ptr.q2"));
    for (int k = 0; k < q2->rows; k++) w[q2->offset + k] *= 100.0f;
    Rng r;
    rng_seed(&r, 99);
    float ca[NA], cv = 0.7f;
    for (int a = 0; a < NA; a++) ca[a] = 2.0f * rng_uniform(&r) - 1.0f;

    PolicyCache *c = policy_cache_new();
    Err e = {0};
    float logits[NA], v;
    CHECK_OK(policy_forward(p, &s.obs, c, logits, &v, &e), &e);
    policy_zero_grad(p);
    policy_backward(p, &s.obs, c, ca, cv);
    const float *g = policy_grads(p);

    int checked = 0, bad = 0;
    for (int t = 0; t < policy_n_tensors(p); t++) {
        const PolicyTensor *pt = policy_tensor(p, t);
        size_t n = (size_t)pt->rows * pt->cols;
        int picks = n < 6 ? (int)n : 6;
        double gnorm = 0; /* every tensor must receive some gradient */
        for (size_t k = 0; k < n; k++) gnorm += fabs(g[pt->offset + k]);
        if (!(gnorm > 0)) { print_error("tensor %s has zero gradient\n", pt->name); fail(); }
        for (int i = 0; i < picks; i++) {
            size_t k = pt->offset + (n <= 6 ? (size_t)i : (size_t)rng_below(&r, n));
            /* the STOP row of the rule embeddings is always one of the picks */
            if (strcmp(pt->name, "rule_emb") == 0 && i == 0) k = pt->offset + (size_t)N_RULES * pt->cols + 3;
            /* a relu kink (or a max-pool switch) inside the step spoils a central difference;
               a 4x smaller step then avoids it, so a gradient fails only if both disagree */
            double fd = 0;
            bool ok = false;
            for (float eps = 1e-3f; eps > 2e-4f && !ok; eps /= 4) {
                float keep = w[k];
                w[k] = keep + eps;
                double lp = loss(p, &s.obs, c, ca, cv);
                w[k] = keep - eps;
                double lm = loss(p, &s.obs, c, ca, cv);
                w[k] = keep;
                fd = (lp - lm) / ((double)(keep + eps) - (double)(keep - eps));
                ok = fabs(fd - g[k]) <= 1e-2 * fabs(fd) + 2e-3;
            }
            if (!ok) {
                print_error("%s[%zu]: analytic %.6g, finite difference %.6g\n", pt->name, k - pt->offset, g[k], fd);
                bad++;
            }
            checked++;
        }
    }
    printf("[ policy   ] gradient: %d parameters in %d tensors checked against finite differences\n", checked,
           policy_n_tensors(p));
    assert_int_equal(bad, 0);

    /* backward accumulates: a second call doubles every gradient */
    float *g1 = malloc(policy_n_params(p) * sizeof(float));
    memcpy(g1, g, policy_n_params(p) * sizeof(float));
    CHECK_OK(policy_forward(p, &s.obs, c, logits, &v, &e), &e);
    policy_backward(p, &s.obs, c, ca, cv);
    /* (rounding differs: the second pass adds its partial sums onto non-zero gradients) */
    for (size_t k = 0; k < policy_n_params(p); k++) assert_true(fabs(g[k] - 2.0f * g1[k]) <= 1e-4 * fabs(g1[k]) + 1e-6);
    free(g1);
    policy_cache_free(c);
    policy_free(p);
}

/* renumbering nodes (and edges, and site nodes, consistently) changes nothing */
static void test_permutation_invariance(void **st) {
    (void)st;
    Small s, t;
    small_make(&s, 21);
    small_make(&t, 21);
    const int perm[NN] = {4, 0, 5, 2, 1, 3}; /* old node v becomes perm[v] */
    for (int v = 0; v < NN; v++) memcpy(t.x + perm[v] * FEAT, s.x + v * FEAT, FEAT * sizeof(float));
    /* edges renumbered and listed in reverse order */
    for (int e = 0; e < NE; e++) {
        t.src[NE - 1 - e] = perm[s.src[e]];
        t.dst[NE - 1 - e] = perm[s.dst[e]];
    }
    for (int a = 0; a < NA; a++)
        for (int i = 0; i < s.actions[a].n; i++) t.actions[a].nodes[i] = perm[s.actions[a].nodes[i]];
    Policy *p = make_policy(3);
    PolicyCache *c = policy_cache_new();
    Err e = {0};
    float l1[NA], l2[NA], v1, v2;
    CHECK_OK(policy_forward(p, &s.obs, c, l1, &v1, &e), &e);
    CHECK_OK(policy_forward(p, &t.obs, c, l2, &v2, &e), &e);
    for (int a = 0; a < NA; a++) assert_true(fabs(l1[a] - l2[a]) <= 1e-5 * (1 + fabs(l1[a])));
    assert_true(fabs(v1 - v2) <= 1e-5 * (1 + fabs(v1)));
    /* and the check has teeth: a different site for action 1 moves its logit */
    t.actions[1].nodes[0] = perm[5];
    CHECK_OK(policy_forward(p, &t.obs, c, l2, &v2, &e), &e);
    assert_true(l1[1] != l2[1]);
    /* the env's log prior shifts exactly its action's logit, nothing else */
    s.actions[2].log_prior = -1.5f;
    CHECK_OK(policy_forward(p, &s.obs, c, l2, &v2, &e), &e);
    for (int a = 0; a < NA; a++) assert_true(fabsf(l2[a] - (l1[a] + (a == 2 ? -1.5f : 0))) <= 1e-6f * (1 + fabsf(l1[a])));
    assert_true(v2 == v1);
    policy_cache_free(c);
    policy_free(p);
}

static void test_determinism_and_init(void **st) {
    (void)st;
    Policy *a = make_policy(42), *b = make_policy(42), *d = make_policy(43);
    assert_true(policy_fingerprint(a) == policy_fingerprint(b));
    assert_memory_equal(policy_params(a), policy_params(b), policy_n_params(a) * sizeof(float));
    assert_true(policy_fingerprint(a) != policy_fingerprint(d));
    /* a cache reused across observations gives the same answer as a fresh one */
    Small s, s2;
    small_make(&s, 1);
    small_make(&s2, 2);
    PolicyCache *c = policy_cache_new(), *fresh = policy_cache_new();
    Err e = {0};
    float l1[NA], l2[NA], v1, v2;
    CHECK_OK(policy_forward(a, &s.obs, fresh, l1, &v1, &e), &e);
    CHECK_OK(policy_forward(a, &s2.obs, c, l2, &v2, &e), &e);
    CHECK_OK(policy_forward(a, &s.obs, c, l2, &v2, &e), &e);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_true(v1 == v2);
    /* a new policy is close to uniform: logits small, all within a narrow band */
    double lo = 1e9, hi = -1e9;
    for (int a_ = 0; a_ < NA; a_++) {
        lo = fmin(lo, l1[a_]);
        hi = fmax(hi, l1[a_]);
    }
    printf("[ policy   ] new policy: logits in [%.4f, %.4f], value %.3f\n", lo, hi, v1);
    assert_true(fabs(lo) < 0.1 && fabs(hi) < 0.1);
    assert_true(hi > lo); /* but not identical: actions are distinguished */
    /* softmax: every action within 2% of 1/NA */
    double z = 0;
    for (int a_ = 0; a_ < NA; a_++) z += exp(l1[a_]);
    for (int a_ = 0; a_ < NA; a_++) assert_true(fabs(exp(l1[a_]) / z - 1.0 / NA) < 0.02 / NA);
    policy_cache_free(c);
    policy_cache_free(fresh);
    policy_free(a);
    policy_free(b);
    policy_free(d);
}

static void test_malformed_obs(void **st) {
    (void)st;
    Policy *p = make_policy(1);
    PolicyCache *c = policy_cache_new();
    float logits[NA], v;
    Err e = {0};
    Small s;
    small_make(&s, 1);
    char msgs[5][512];
    /* edge index out of range (both ends, both signs) */
    s.src[3] = NN;
    assert_int_equal(policy_forward(p, &s.obs, c, logits, &v, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    strcpy(msgs[0], e.msg);
    s.src[3] = 2;
    s.dst[6] = -1;
    assert_int_equal(policy_forward(p, &s.obs, c, logits, &v, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    s.dst[6] = 5;
    /* zero actions */
    s.obs.n_actions = 0;
    assert_int_equal(policy_forward(p, &s.obs, c, logits, &v, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    strcpy(msgs[1], e.msg);
    s.obs.n_actions = NA;
    /* action node out of range */
    s.actions[1].nodes[2] = NN;
    assert_int_equal(policy_forward(p, &s.obs, c, logits, &v, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    strcpy(msgs[2], e.msg);
    s.actions[1].nodes[2] = 2;
    /* rule out of range (STOP is n_rules; n_rules + 1 is not a rule) */
    s.actions[0].rule = N_RULES + 1;
    assert_int_equal(policy_forward(p, &s.obs, c, logits, &v, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    strcpy(msgs[3], e.msg);
    s.actions[0].rule = 0;
    /* no nodes */
    s.obs.n_nodes = 0;
    assert_int_equal(policy_forward(p, &s.obs, c, logits, &v, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    strcpy(msgs[4], e.msg);
    s.obs.n_nodes = NN;
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) assert_string_not_equal(msgs[i], msgs[j]);
    /* backward after a failed forward leaves the gradient alone */
    policy_zero_grad(p);
    const float ones[NA] = {1, 1, 1, 1, 1};
    policy_backward(p, &s.obs, c, ones, 1.0f);
    for (size_t k = 0; k < policy_n_params(p); k++) assert_true(policy_grads(p)[k] == 0.0f);
    /* and the repaired observation works */
    CHECK_OK(policy_forward(p, &s.obs, c, logits, &v, &e), &e);
    policy_cache_free(c);
    policy_free(p);
}

/* ---- files ----------------------------------------------------------------------------------- */

static char tmpdir[64];
static int files_setup(void **st) {
    (void)st;
    strcpy(tmpdir, "/tmp/grappo_policy_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int files_teardown(void **st) {
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}
static void spit(const char *path, const uint8_t *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* loading path must fail with ERR_INPUT and a message containing want */
static void expect_bad(const char *path, const char *want) {
    Err e = {0};
    void *extra = (void *)1;
    size_t extra_len = 99;
    Policy *p = policy_load(path, &extra, &extra_len, &e);
    if (p || e.code != ERR_INPUT || !strstr(e.msg, want)) {
        print_error("expected ERR_INPUT with '%s', got code %d: %s\n", want, e.code, e.msg);
        policy_free(p);
        fail();
    }
    assert_null(extra);
    assert_int_equal(extra_len, 0);
}

static void test_save_load(void **st) {
    (void)st;
    char path[128];
    snprintf(path, sizeof path, "%s/p.bin", tmpdir);
    Policy *p = make_policy(77);
    const char extra[] = "trainer\0state\xff";
    Err e = {0};
    CHECK_OK(policy_save(p, path, extra, sizeof extra, &e), &e);
    void *got = NULL;
    size_t got_len = 0;
    Policy *q = policy_load(path, &got, &got_len, &e);
    if (!q) { print_error("%s\n", e.msg); fail(); }
    assert_int_equal(policy_n_params(q), policy_n_params(p));
    assert_memory_equal(policy_params(q), policy_params(p), policy_n_params(p) * sizeof(float));
    assert_true(policy_fingerprint(q) == policy_fingerprint(p));
    assert_memory_equal(policy_config(q), policy_config(p), sizeof(PolicyConfig));
    for (int i = 0; i <= N_RULES; i++) assert_string_equal(policy_rule_name(q, i), policy_rule_name(p, i));
    assert_int_equal(got_len, sizeof extra);
    assert_memory_equal(got, extra, sizeof extra);
    free(got);
    /* same network: same logits */
    Small s;
    small_make(&s, 4);
    PolicyCache *c = policy_cache_new();
    float l1[NA], l2[NA], v1, v2;
    CHECK_OK(policy_forward(p, &s.obs, c, l1, &v1, &e), &e);
    CHECK_OK(policy_forward(q, &s.obs, c, l2, &v2, &e), &e);
    assert_memory_equal(l1, l2, sizeof l1);
    policy_cache_free(c);
    policy_free(q);
    /* no extra bytes; a caller that does not want them */
    CHECK_OK(policy_save(p, path, NULL, 0, &e), &e);
    got = (void *)1;
    q = policy_load(path, &got, &got_len, &e);
    assert_non_null(q);
    assert_null(got);
    assert_int_equal(got_len, 0);
    policy_free(q);
    q = policy_load(path, NULL, NULL, &e);
    assert_non_null(q);
    policy_free(q);
    /* a missing file */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.bin", tmpdir);
    assert_null(policy_load(missing, NULL, NULL, &e));
    assert_int_equal(e.code, ERR_INPUT);
    policy_free(p);
}

static void put_u32_at(uint8_t *b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t fnv(const uint8_t *b, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
/* re-seals a doctored file with a valid checksum, so the checks behind it are reached */
static void reseal(uint8_t *b, size_t len) {
    uint64_t h = fnv(b, len - 8);
    for (int i = 0; i < 8; i++) b[len - 8 + i] = (uint8_t)(h >> (8 * i));
}

static void test_bad_files(void **st) {
    (void)st;
    char good[128], bad[128];
    snprintf(good, sizeof good, "%s/good.bin", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.bin", tmpdir);
    Policy *p = make_policy(8);
    Err e = {0};
    const char extra[] = "0123456789";
    CHECK_OK(policy_save(p, good, extra, sizeof extra, &e), &e);
    size_t len;
    uint8_t *b = slurp(good, &len);
    size_t n_params = policy_n_params(p);
    /* truncated anywhere: inside the magic, header, names, parameters, extra, checksum */
    const size_t cuts[] = {0, 5, 10, 20, 40, 60, len / 2, len - 20, len - 9, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        spit(bad, b, cuts[i]);
        expect_bad(bad, "truncated");
    }
    /* one flipped bit in the middle (inside the parameters) */
    uint8_t *m = malloc(len + 1);
    memcpy(m, b, len);
    m[len / 2] ^= 0x10;
    spit(bad, m, len);
    expect_bad(bad, "checksum");
    /* foreign file */
    memcpy(m, b, len);
    memcpy(m, "GRAPHDEF", 8);
    spit(bad, m, len);
    expect_bad(bad, "magic");
    spit(bad, (const uint8_t *)"hi", 2);
    expect_bad(bad, "magic");
    /* another format version */
    memcpy(m, b, len);
    put_u32_at(m, 8, POLICY_FORMAT_VERSION + 1);
    reseal(m, len);
    spit(bad, m, len);
    expect_bad(bad, "version");
    /* a byte after the checksum */
    memcpy(m, b, len);
    m[len] = 0;
    spit(bad, m, len + 1);
    expect_bad(bad, "after the checksum");
    /* hostile sizes, with valid checksums so the bounds themselves must stop them:
       a giant hidden width (config field 3 at byte 8 + 4 + 4 + 12) */
    memcpy(m, b, len);
    put_u32_at(m, 28, 1u << 30);
    reseal(m, len);
    spit(bad, m, len);
    expect_bad(bad, "out of range");
    /* a giant first rule-name length (right after the rule count at byte 40) */
    memcpy(m, b, len);
    put_u32_at(m, 44, 0x7fffffffu);
    reseal(m, len);
    spit(bad, m, len);
    expect_bad(bad, "rule name 0 has length");
    /* a giant extra length (the u64 after the parameters) */
    memcpy(m, b, len);
    size_t extra_at = len - 8 - sizeof extra - 8;
    for (int i = 0; i < 8; i++) m[extra_at + i] = 0xff;
    reseal(m, len);
    spit(bad, m, len);
    expect_bad(bad, "truncated");
    /* a parameter count that does not match the configuration */
    memcpy(m, b, len);
    size_t count_at = extra_at - 4 * n_params - 8;
    put_u32_at(m, count_at, (uint32_t)n_params + 1);
    reseal(m, len);
    spit(bad, m, len);
    expect_bad(bad, "parameters for a configuration");
    /* the untouched file still loads */
    Policy *q = policy_load(good, NULL, NULL, &e);
    assert_non_null(q);
    policy_free(q);
    free(m);
    free(b);
    policy_free(p);
}

/* ---- speed ----------------------------------------------------------------------------------- */

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static void test_timing(void **st) {
    (void)st;
    enum { TN = 1500, TE = 2500, TA = 2000, TF = 24 };
    Rng r;
    rng_seed(&r, 5);
    float *x = malloc(sizeof(float) * TN * TF);
    int *src = malloc(sizeof(int) * TE), *dst = malloc(sizeof(int) * TE);
    PolicyAction *acts = calloc(TA, sizeof *acts);
    float *logits = malloc(sizeof(float) * TA), *dl = malloc(sizeof(float) * TA);
    for (int i = 0; i < TN * TF; i++) x[i] = (float)rng_normal(&r);
    for (int e = 0; e < TE; e++) { /* a random DAG: producers have lower indices */
        int a = (int)rng_below(&r, TN - 1);
        src[e] = a;
        dst[e] = a + 1 + (int)rng_below(&r, (uint64_t)(TN - 1 - a) < 20 ? (uint64_t)(TN - 1 - a) : 20);
    }
    for (int a = 0; a < TA - 1; a++) {
        acts[a].rule = (int)rng_below(&r, N_RULES);
        acts[a].n = 1 + (int)rng_below(&r, 4);
        for (int i = 0; i < acts[a].n; i++) acts[a].nodes[i] = (int)rng_below(&r, TN);
    }
    acts[TA - 1].rule = N_RULES;
    for (int a = 0; a < TA; a++) dl[a] = 2.0f * rng_uniform(&r) - 1.0f;
    PolicyObs o = {.n_nodes = TN, .x = x, .n_edges = TE, .edge_src = src, .edge_dst = dst, .w = {1, 0, 0},
                   .n_actions = TA, .actions = acts};
    Err e = {0};
    PolicyConfig cfg = policy_config_default(TF, 1, N_RULES);
    Policy *p = policy_new(&cfg, RULE_NAMES, 1, &e);
    assert_non_null(p);
    PolicyCache *c = policy_cache_new();
    float v;
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) { /* the first also grows the buffers */
        double t0 = now_ms();
        CHECK_OK(policy_forward(p, &o, c, logits, &v, &e), &e);
        policy_backward(p, &o, c, dl, 0.5f);
        best = fmin(best, now_ms() - t0);
    }
    for (int a = 0; a < TA; a++) assert_true(isfinite(logits[a]));
    printf("[ policy   ] forward+backward, %d nodes, %d edges, %d actions: %.1f ms (best of 3)\n", TN, TE, TA, best);
#if !defined(__SANITIZE_ADDRESS__)
    assert_true(best < 500.0); /* under AddressSanitizer (make test-asan) a wall-clock bound means nothing */
#endif
    policy_cache_free(c);
    policy_free(p);
    free(x); free(src); free(dst); free(acts); free(logits); free(dl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_gradient),
        cmocka_unit_test(test_permutation_invariance),
        cmocka_unit_test(test_determinism_and_init),
        cmocka_unit_test(test_malformed_obs),
        cmocka_unit_test_setup_teardown(test_save_load, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, files_setup, files_teardown),
        cmocka_unit_test(test_timing),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
