/* policy.c - the policy network (policy.h): configuration, the flat parameter layout,
 * deterministic initialisation, forward over one observation, and the hand-written backward.
 * Save/load and the fingerprint live in policy_io.c; the layers in nn.c.
 *
 * Parameter layout (one flat float vector; H = hidden, F = feat_dim, K = rounds,
 * Q = head_hidden, R = n_rules, C = 2H + POLICY_W_DIM + POLICY_GLOBAL_DIM = context width),
 * in this order, every matrix out x in row-major:
 *   embed.W      H x F        embed.b     H
 *   for k in 0..K-1:
 *     roundk.Ws  H x H  (self)  roundk.Wi  H x H  (mean over producers)
 *     roundk.Wo  H x H  (mean over consumers)   roundk.b  H
 *   rule_emb     (R+1) x H    row R is STOP
 *   ptr.Q1_anchor Q x H   ptr.Q1_site Q x H   ptr.Q1_rule Q x H   ptr.Q1_ctx Q x C
 *   ptr.b1 Q   ptr.q2 Q   ptr.b2 1
 *   value.V1 Q x C   value.b1 Q   value.v2 Q   value.b2 1
 * The pointer head's first layer Q1 = [Q1_anchor | Q1_site | Q1_rule | Q1_ctx] acting on
 * z_a = [h[s0], mean_S h, E[r], c] is stored as four blocks because it is evaluated that way:
 * Q1_anchor·h[v] and Q1_site·h[v] are computed once per node, Q1_rule·E[r] once per rule and
 * Q1_ctx·c once per observation, and each action only sums its pieces (the site mean commutes
 * with the linear map). This makes an action cost O(Q · |S|) instead of O(Q · (5H + 7)), which
 * is what keeps thousands of actions cheap. */
#include "policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/rng.h"
#include "nn.h"

/* limits on a configuration (also bound what a policy file can make us allocate) */
#define MAX_FEAT_DIM 4096
#define MAX_HIDDEN 1024
#define MAX_ROUNDS 16
#define MAX_RULE_NAME 255

/* tensor indices: embed, then 4 per round, then the heads (T_* are relative to head_base) */
enum { T_EMBED_W, T_EMBED_B, T_ROUNDS };
enum { T_RULE_EMB, T_Q1_ANCHOR, T_Q1_SITE, T_Q1_RULE, T_Q1_CTX, T_PTR_B1, T_PTR_Q2, T_PTR_B2,
       T_V1, T_VAL_B1, T_VAL_V2, T_VAL_B2, T_HEADS };
enum { R_WS, R_WI, R_WO, R_B };

typedef struct Buf { float *p; size_t cap; } Buf;

/* backward's scratch: backward mutates the policy (its gradients) anyway, so the scratch lives
   here and the cache can stay const in backward */
typedef struct Work {
    Buf dcur, dpre, dain, daout; /* n x H */
    Buf dpa, dpm;                /* n x Q */
    Buf dpr;                     /* (R+1) x Q */
    Buf small;                   /* dpc (Q) | dctx (C) | dvh (Q) | du (Q) */
} Work;

struct Policy {
    PolicyConfig cfg;
    char **rule_names;
    char **op_names;   /* the feature layout's one-hot columns (NULL: not recorded) */
    int n_op_names;
    int n_tensors, head_base;
    PolicyTensor *tensors;
    size_t n_params;
    float *params, *grads;
    Work work;
};

struct PolicyCache {
    bool valid;                /* a forward succeeded into this cache */
    int n_nodes, n_actions, hidden, rounds, head, ctx_dim, n_rule_rows;
    Buf inv_in, inv_out;       /* n: 1/in-degree, 1/out-degree (0 without neighbours) */
    Buf h;                     /* (K+1) x n x H: h_0 .. h_K */
    Buf ain, aout, r;          /* K x n x H: round k's aggregates and its relu output */
    Buf pa, pm;                /* n x Q: Q1_anchor·h_K[v], Q1_site·h_K[v] */
    Buf pr;                    /* (R+1) x Q: Q1_rule·E[r] */
    Buf ctx;                   /* C: [mean h_K, max h_K, w, global] */
    Buf pc;                    /* Q: Q1_ctx·ctx + b1 */
    Buf u;                     /* n_actions x Q: pointer hidden after relu */
    Buf vh;                    /* Q: value hidden after relu */
    int *argmax;               /* H: max-pool winners */
    size_t argmax_cap;
};

/* grows b to hold n floats (contents not kept); 0 or -1 when out of memory */
static int buf_reserve(Buf *b, size_t n) {
    if (n <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < n) cap *= 2;
    float *p = realloc(b->p, cap * sizeof(float));
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void buf_free(Buf *b) { free(b->p); b->p = NULL; b->cap = 0; }

static int ctx_dim(const PolicyConfig *c) { return 2 * c->hidden + POLICY_W_DIM + POLICY_GLOBAL_DIM; }

PolicyConfig policy_config_default(int feat_dim, int features_version, int n_rules) {
    PolicyConfig c = {.feat_dim = feat_dim, .features_version = features_version, .n_rules = n_rules,
                      .hidden = 32, .rounds = 3, .head_hidden = 64};
    return c;
}

static int config_check(const PolicyConfig *c, Err *err) {
    if (c->feat_dim < 1 || c->feat_dim > MAX_FEAT_DIM)
        return err_set(err, ERR_INPUT, "policy: feat_dim %d outside 1..%d", c->feat_dim, MAX_FEAT_DIM);
    if (c->n_rules < 0 || c->n_rules > POLICY_MAX_RULES)
        return err_set(err, ERR_INPUT, "policy: n_rules %d outside 0..%d", c->n_rules, POLICY_MAX_RULES);
    if (c->hidden < 1 || c->hidden > MAX_HIDDEN)
        return err_set(err, ERR_INPUT, "policy: hidden %d outside 1..%d", c->hidden, MAX_HIDDEN);
    if (c->rounds < 0 || c->rounds > MAX_ROUNDS)
        return err_set(err, ERR_INPUT, "policy: rounds %d outside 0..%d", c->rounds, MAX_ROUNDS);
    if (c->head_hidden < 1 || c->head_hidden > MAX_HIDDEN)
        return err_set(err, ERR_INPUT, "policy: head_hidden %d outside 1..%d", c->head_hidden, MAX_HIDDEN);
    return 0;
}

static void add_tensor(Policy *p, int *t, size_t *off, const char *name, int rows, int cols) {
    PolicyTensor *pt = &p->tensors[(*t)++];
    snprintf(pt->name, sizeof pt->name, "%s", name);
    pt->offset = *off;
    pt->rows = rows;
    pt->cols = cols;
    *off += (size_t)rows * (size_t)cols;
}

/* fills p->tensors with names, shapes and offsets in layout order; sets n_params */
static void layout(Policy *p) {
    const PolicyConfig *c = &p->cfg;
    int H = c->hidden, Q = c->head_hidden, C = ctx_dim(c);
    size_t off = 0;
    int t = 0;
    char name[24];
    add_tensor(p, &t, &off, "embed.W", H, c->feat_dim);
    add_tensor(p, &t, &off, "embed.b", H, 1);
    for (int k = 0; k < c->rounds; k++) {
        static const char *const parts[4] = {"Ws", "Wi", "Wo", "b"};
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "round%d.%s", k, parts[i]);
            add_tensor(p, &t, &off, name, H, i == R_B ? 1 : H);
        }
    }
    add_tensor(p, &t, &off, "rule_emb", c->n_rules + 1, H);
    add_tensor(p, &t, &off, "ptr.Q1_anchor", Q, H);
    add_tensor(p, &t, &off, "ptr.Q1_site", Q, H);
    add_tensor(p, &t, &off, "ptr.Q1_rule", Q, H);
    add_tensor(p, &t, &off, "ptr.Q1_ctx", Q, C);
    add_tensor(p, &t, &off, "ptr.b1", Q, 1);
    add_tensor(p, &t, &off, "ptr.q2", Q, 1);
    add_tensor(p, &t, &off, "ptr.b2", 1, 1);
    add_tensor(p, &t, &off, "value.V1", Q, C);
    add_tensor(p, &t, &off, "value.b1", Q, 1);
    add_tensor(p, &t, &off, "value.v2", Q, 1);
    add_tensor(p, &t, &off, "value.b2", 1, 1);
    p->n_params = off;
}

/* uniform in [-a, a) */
static void fill_uniform(float *w, size_t n, float a, Rng *rng) {
    for (size_t i = 0; i < n; i++) w[i] = (2.0f * rng_uniform(rng) - 1.0f) * a;
}

/* Uniform init in layout order from one Rng, biases zero: He (a = sqrt(6 / fan_in)) for the
   embedding and the rounds (the rounds' branches scaled by 1/sqrt(K), see below), Glorot
   (a = sqrt(6 / (fan_in + fan_out))) for the heads' layers, rule embeddings in [-1, 1), and the
   pointer's last layer times 0.01 so a new policy is close to uniform over actions. Layers whose
   input is split into blocks (a round's three matrices, the pointer's four Q1 blocks) use the
   width of the whole concatenated input as fan_in. */
static void init_params(Policy *p, uint64_t seed) {
    const PolicyConfig *c = &p->cfg;
    int H = c->hidden, Q = c->head_hidden, C = ctx_dim(c);
    /* each round adds its relu branch to h: at full He scale the embeddings' variance grows
       ~2.5x per round; scaling the branches by 1/sqrt(K) keeps h_K within a small factor of h_0 */
    float branch = c->rounds > 0 ? 1.0f / sqrtf((float)c->rounds) : 1.0f;
    Rng rng;
    rng_seed(&rng, seed);
    memset(p->params, 0, p->n_params * sizeof(float));
    for (int t = 0; t < p->n_tensors; t++) {
        const PolicyTensor *pt = &p->tensors[t];
        float *w = p->params + pt->offset;
        size_t n = (size_t)pt->rows * pt->cols;
        int rel = t - p->head_base;
        float a = 0.0f;
        if (t == T_EMBED_W) a = sqrtf(6.0f / (float)c->feat_dim);
        else if (t >= T_ROUNDS && rel < 0 && (t - T_ROUNDS) % 4 != R_B)
            a = sqrtf(6.0f / (float)(3 * H)) * branch;
        else if (rel == T_RULE_EMB) a = 1.0f;
        else if (rel >= T_Q1_ANCHOR && rel <= T_Q1_CTX) a = sqrtf(6.0f / (float)(3 * H + C + Q));
        else if (rel == T_PTR_Q2) a = 0.01f * sqrtf(6.0f / (float)(Q + 1)); /* near-uniform start */
        else if (rel == T_V1) a = sqrtf(6.0f / (float)(C + Q));
        else if (rel == T_VAL_V2) a = sqrtf(6.0f / (float)(Q + 1));
        if (a > 0.0f) fill_uniform(w, n, a, &rng);
    }
}

size_t policy_config_n_params(const PolicyConfig *cfg) {
    if (!cfg || config_check(cfg, NULL)) return 0;
    size_t H = (size_t)cfg->hidden, Q = (size_t)cfg->head_hidden, C = (size_t)ctx_dim(cfg);
    /* the same sum layout() walks, tensor by tensor */
    return H * (size_t)cfg->feat_dim + H + (size_t)cfg->rounds * (3 * H * H + H) + ((size_t)cfg->n_rules + 1) * H +
           3 * Q * H + Q * C + Q + Q + 1 + Q * C + Q + Q + 1;
}

Policy *policy_new(const PolicyConfig *cfg, const char *const *rule_names, uint64_t seed, Err *err) {
    if (!cfg) { err_set(err, ERR_INPUT, "policy: no configuration"); return NULL; }
    if (config_check(cfg, err)) return NULL;
    if (cfg->n_rules > 0 && !rule_names) { err_set(err, ERR_INPUT, "policy: no rule names"); return NULL; }
    for (int i = 0; i < cfg->n_rules; i++) {
        if (!rule_names[i] || !rule_names[i][0] || strlen(rule_names[i]) > MAX_RULE_NAME) {
            err_set(err, ERR_INPUT, "policy: rule name %d is missing, empty or longer than %d bytes", i, MAX_RULE_NAME);
            return NULL;
        }
    }
    Policy *p = calloc(1, sizeof *p);
    if (!p) goto oom;
    p->cfg = *cfg;
    p->head_base = T_ROUNDS + 4 * cfg->rounds;
    p->n_tensors = p->head_base + T_HEADS;
    p->tensors = calloc((size_t)p->n_tensors, sizeof *p->tensors);
    p->rule_names = calloc((size_t)cfg->n_rules + 1, sizeof *p->rule_names);
    if (!p->tensors || !p->rule_names) goto oom;
    for (int i = 0; i < cfg->n_rules; i++)
        if (!(p->rule_names[i] = strdup(rule_names[i]))) goto oom;
    layout(p);
    p->params = malloc(p->n_params * sizeof(float));
    p->grads = calloc(p->n_params, sizeof(float));
    if (!p->params || !p->grads) goto oom;
    init_params(p, seed);
    return p;
oom:
    policy_free(p);
    err_set(err, ERR_RUNTIME, "policy: out of memory");
    return NULL;
}

void policy_free(Policy *p) {
    if (!p) return;
    if (p->rule_names)
        for (int i = 0; i < p->cfg.n_rules; i++) free(p->rule_names[i]);
    free(p->rule_names);
    for (int i = 0; i < p->n_op_names; i++) free(p->op_names[i]);
    free(p->op_names);
    free(p->tensors);
    free(p->params);
    free(p->grads);
    Work *w = &p->work;
    buf_free(&w->dcur); buf_free(&w->dpre); buf_free(&w->dain); buf_free(&w->daout);
    buf_free(&w->dpa); buf_free(&w->dpm); buf_free(&w->dpr); buf_free(&w->small);
    free(p);
}

const PolicyConfig *policy_config(const Policy *p) { return &p->cfg; }

int policy_rule_index(const Policy *p, const char *rule_name) {
    if (!rule_name) return -1;
    for (int i = 0; i < p->cfg.n_rules; i++)
        if (strcmp(p->rule_names[i], rule_name) == 0) return i;
    return -1;
}

const char *policy_rule_name(const Policy *p, int index) {
    if (index == p->cfg.n_rules) return "STOP";
    if (index < 0 || index > p->cfg.n_rules) return NULL;
    return p->rule_names[index];
}

int policy_n_tensors(const Policy *p) { return p->n_tensors; }
const PolicyTensor *policy_tensor(const Policy *p, int i) {
    return i >= 0 && i < p->n_tensors ? &p->tensors[i] : NULL;
}

size_t policy_n_params(const Policy *p) { return p->n_params; }
float *policy_params(Policy *p) { return p->params; }
const float *policy_params_const(const Policy *p) { return p->params; }
float *policy_grads(Policy *p) { return p->grads; }
void policy_zero_grad(Policy *p) { memset(p->grads, 0, p->n_params * sizeof(float)); }

PolicyCache *policy_cache_new(void) { return calloc(1, sizeof(PolicyCache)); }

void policy_cache_free(PolicyCache *c) {
    if (!c) return;
    buf_free(&c->inv_in); buf_free(&c->inv_out); buf_free(&c->h); buf_free(&c->ain); buf_free(&c->aout);
    buf_free(&c->r); buf_free(&c->pa); buf_free(&c->pm); buf_free(&c->pr); buf_free(&c->ctx);
    buf_free(&c->pc); buf_free(&c->u); buf_free(&c->vh);
    free(c->argmax);
    free(c);
}

/* ---- forward ------------------------------------------------------------------------------- */

static int obs_check(const Policy *p, const PolicyObs *o, Err *err) {
    if (!o) return err_set(err, ERR_INPUT, "policy: no observation");
    if (o->n_nodes < 1) return err_set(err, ERR_INPUT, "policy: observation has %d nodes (need >= 1)", o->n_nodes);
    if (!o->x) return err_set(err, ERR_INPUT, "policy: observation has no node features");
    if (o->n_edges < 0 || (o->n_edges > 0 && (!o->edge_src || !o->edge_dst)))
        return err_set(err, ERR_INPUT, "policy: observation has %d edges but no edge arrays", o->n_edges);
    for (int e = 0; e < o->n_edges; e++) {
        if (o->edge_src[e] < 0 || o->edge_src[e] >= o->n_nodes || o->edge_dst[e] < 0 || o->edge_dst[e] >= o->n_nodes)
            return err_set(err, ERR_INPUT, "policy: edge %d (%d -> %d) outside nodes 0..%d", e, o->edge_src[e],
                           o->edge_dst[e], o->n_nodes - 1);
    }
    if (o->n_actions < 1 || !o->actions)
        return err_set(err, ERR_INPUT, "policy: observation has no actions (STOP is always legal)");
    for (int a = 0; a < o->n_actions; a++) {
        const PolicyAction *pa = &o->actions[a];
        if (pa->rule < 0 || pa->rule > p->cfg.n_rules)
            return err_set(err, ERR_INPUT, "policy: action %d has rule %d outside 0..%d", a, pa->rule, p->cfg.n_rules);
        if (pa->n < 0 || pa->n > SITE_MAX_NODES)
            return err_set(err, ERR_INPUT, "policy: action %d has %d site nodes (max %d)", a, pa->n, SITE_MAX_NODES);
        for (int i = 0; i < pa->n; i++)
            if (pa->nodes[i] < 0 || pa->nodes[i] >= o->n_nodes)
                return err_set(err, ERR_INPUT, "policy: action %d site node %d outside nodes 0..%d", a, pa->nodes[i],
                               o->n_nodes - 1);
    }
    return 0;
}

static const float *T(const Policy *p, int t) { return p->params + p->tensors[t].offset; }
static float *G(Policy *p, int t) { return p->grads + p->tensors[t].offset; }

static int cache_reserve(PolicyCache *c, const Policy *p, const PolicyObs *o) {
    const PolicyConfig *cf = &p->cfg;
    size_t n = (size_t)o->n_nodes, H = (size_t)cf->hidden, K = (size_t)cf->rounds, Q = (size_t)cf->head_hidden;
    size_t nH = n * H;
    /* K == 0 still needs non-NULL round buffers of size 0: reserve at least 1 */
    if (buf_reserve(&c->inv_in, n) || buf_reserve(&c->inv_out, n) || buf_reserve(&c->h, (K + 1) * nH) ||
        buf_reserve(&c->ain, K * nH + 1) || buf_reserve(&c->aout, K * nH + 1) || buf_reserve(&c->r, K * nH + 1) ||
        buf_reserve(&c->pa, n * Q) || buf_reserve(&c->pm, n * Q) ||
        buf_reserve(&c->pr, ((size_t)cf->n_rules + 1) * Q) || buf_reserve(&c->ctx, (size_t)ctx_dim(cf)) ||
        buf_reserve(&c->pc, Q) || buf_reserve(&c->u, (size_t)o->n_actions * Q) || buf_reserve(&c->vh, Q))
        return -1;
    if (c->argmax_cap < H) {
        int *a = realloc(c->argmax, H * sizeof(int));
        if (!a) return -1;
        c->argmax = a;
        c->argmax_cap = H;
    }
    return 0;
}

int policy_forward(const Policy *p, const PolicyObs *obs, PolicyCache *c, float *logits, float *value, Err *err) {
    if (!c) return err_set(err, ERR_INPUT, "policy: no cache");
    c->valid = false;
    if (obs_check(p, obs, err)) return -1;
    if (cache_reserve(c, p, obs)) return err_set(err, ERR_RUNTIME, "policy: out of memory for %d nodes", obs->n_nodes);
    const PolicyConfig *cf = &p->cfg;
    int n = obs->n_nodes, H = cf->hidden, K = cf->rounds, Q = cf->head_hidden, C = ctx_dim(cf);
    size_t nH = (size_t)n * H;
    c->n_nodes = n;
    c->n_actions = obs->n_actions;
    c->hidden = H;
    c->rounds = K;
    c->head = Q;
    c->ctx_dim = C;
    c->n_rule_rows = cf->n_rules + 1;

    /* degree normalisations: in-degree over consumers (dst), out-degree over producers (src) */
    nn_inv_degree(c->inv_in.p, n, obs->edge_dst, obs->n_edges);
    nn_inv_degree(c->inv_out.p, n, obs->edge_src, obs->n_edges);

    /* embed */
    float *h0 = c->h.p;
    nn_linear_forward(h0, obs->x, T(p, T_EMBED_W), T(p, T_EMBED_B), n, cf->feat_dim, H);
    nn_relu_forward(h0, h0, nH);

    /* K rounds of message passing with residuals */
    for (int k = 0; k < K; k++) {
        const float *hk = c->h.p + (size_t)k * nH;
        float *hn = c->h.p + (size_t)(k + 1) * nH;
        float *ain = c->ain.p + (size_t)k * nH, *aout = c->aout.p + (size_t)k * nH, *r = c->r.p + (size_t)k * nH;
        int t = T_ROUNDS + 4 * k;
        nn_edge_mean_forward(ain, hk, obs->edge_src, obs->edge_dst, obs->n_edges, c->inv_in.p, n, H);
        nn_edge_mean_forward(aout, hk, obs->edge_dst, obs->edge_src, obs->n_edges, c->inv_out.p, n, H);
        nn_linear_forward(r, hk, T(p, t + R_WS), T(p, t + R_B), n, H, H);
        nn_linear_accumulate(r, ain, T(p, t + R_WI), n, H, H);
        nn_linear_accumulate(r, aout, T(p, t + R_WO), n, H, H);
        nn_relu_forward(r, r, nH);
        for (size_t i = 0; i < nH; i++) hn[i] = hk[i] + r[i];
    }
    const float *hK = c->h.p + (size_t)K * nH;

    /* context c = [mean h, max h, w, global] */
    float *ctx = c->ctx.p;
    nn_mean_pool_forward(ctx, hK, n, H);
    nn_max_pool_forward(ctx + H, c->argmax, hK, n, H);
    memcpy(ctx + 2 * H, obs->w, sizeof obs->w);
    memcpy(ctx + 2 * H + POLICY_W_DIM, obs->global, sizeof obs->global);

    /* pointer head, by blocks (see the layout comment at the top) */
    int hb = p->head_base;
    nn_linear_forward(c->pa.p, hK, T(p, hb + T_Q1_ANCHOR), NULL, n, H, Q);
    nn_linear_forward(c->pm.p, hK, T(p, hb + T_Q1_SITE), NULL, n, H, Q);
    nn_linear_forward(c->pr.p, T(p, hb + T_RULE_EMB), T(p, hb + T_Q1_RULE), NULL, cf->n_rules + 1, H, Q);
    nn_linear_forward(c->pc.p, ctx, T(p, hb + T_Q1_CTX), T(p, hb + T_PTR_B1), 1, C, Q);
    const float *q2 = T(p, hb + T_PTR_Q2);
    float q2b = T(p, hb + T_PTR_B2)[0];
    for (int a = 0; a < obs->n_actions; a++) {
        const PolicyAction *act = &obs->actions[a];
        float *u = c->u.p + (size_t)a * Q;
        const float *pr = c->pr.p + (size_t)act->rule * Q;
        for (int j = 0; j < Q; j++) u[j] = c->pc.p[j] + pr[j];
        if (act->n > 0) {
            const float *pa = c->pa.p + (size_t)act->nodes[0] * Q;
            for (int j = 0; j < Q; j++) u[j] += pa[j];
            float s = 1.0f / (float)act->n;
            for (int i = 0; i < act->n; i++) {
                const float *pm = c->pm.p + (size_t)act->nodes[i] * Q;
                for (int j = 0; j < Q; j++) u[j] += s * pm[j];
            }
        }
        nn_relu_forward(u, u, (size_t)Q);
        float l = q2b + act->log_prior;
        for (int j = 0; j < Q; j++) l += q2[j] * u[j];
        if (logits) logits[a] = l;
    }

    /* value head */
    nn_linear_forward(c->vh.p, ctx, T(p, hb + T_V1), T(p, hb + T_VAL_B1), 1, C, Q);
    nn_relu_forward(c->vh.p, c->vh.p, (size_t)Q);
    const float *v2 = T(p, hb + T_VAL_V2);
    float v = T(p, hb + T_VAL_B2)[0];
    for (int j = 0; j < Q; j++) v += v2[j] * c->vh.p[j];
    if (value) *value = v;
    c->valid = true;
    return 0;
}

/* ---- backward ------------------------------------------------------------------------------ */

static int work_reserve(Work *w, const PolicyConfig *cf, int n) {
    size_t nH = (size_t)n * cf->hidden, nQ = (size_t)n * cf->head_hidden, Q = (size_t)cf->head_hidden;
    return buf_reserve(&w->dcur, nH) || buf_reserve(&w->dpre, nH) || buf_reserve(&w->dain, nH) ||
           buf_reserve(&w->daout, nH) || buf_reserve(&w->dpa, nQ) || buf_reserve(&w->dpm, nQ) ||
           buf_reserve(&w->dpr, ((size_t)cf->n_rules + 1) * Q) || buf_reserve(&w->small, 3 * Q + (size_t)ctx_dim(cf));
}

void policy_backward(Policy *p, const PolicyObs *obs, const PolicyCache *c, const float *dlogits, float dvalue) {
    const PolicyConfig *cf = &p->cfg;
    /* backward of a failed forward, or of another network's cache, has nothing to do */
    if (!c || !c->valid || !obs || c->n_nodes != obs->n_nodes || c->n_actions != obs->n_actions ||
        c->hidden != cf->hidden || c->rounds != cf->rounds || c->head != cf->head_hidden ||
        c->n_rule_rows != cf->n_rules + 1)
        return;
    Work *w = &p->work;
    int n = c->n_nodes;
    if (work_reserve(w, cf, n)) return; /* out of memory: the gradient is left untouched */
    int H = cf->hidden, K = cf->rounds, Q = cf->head_hidden, C = ctx_dim(cf), hb = p->head_base;
    size_t nH = (size_t)n * H, nQ = (size_t)n * Q;
    float *dpc = w->small.p, *dctx = dpc + Q, *dvh = dctx + C, *du = dvh + Q;
    memset(w->dpa.p, 0, nQ * sizeof(float));
    memset(w->dpm.p, 0, nQ * sizeof(float));
    memset(w->dpr.p, 0, ((size_t)cf->n_rules + 1) * Q * sizeof(float));
    memset(w->small.p, 0, (3 * (size_t)Q + (size_t)C) * sizeof(float));

    /* pointer head: logit_a = q2·u_a + b2, u_a = relu(pa[s0] + mean pm[S] + pr[r] + pc) */
    const float *q2 = T(p, hb + T_PTR_Q2);
    float *gq2 = G(p, hb + T_PTR_Q2);
    for (int a = 0; a < obs->n_actions; a++) {
        float g = dlogits ? dlogits[a] : 0.0f;
        if (g == 0.0f) continue;
        const PolicyAction *act = &obs->actions[a];
        const float *u = c->u.p + (size_t)a * Q;
        G(p, hb + T_PTR_B2)[0] += g;
        for (int j = 0; j < Q; j++) {
            gq2[j] += g * u[j];
            du[j] = u[j] > 0.0f ? g * q2[j] : 0.0f;
        }
        float *dpr = w->dpr.p + (size_t)act->rule * Q;
        for (int j = 0; j < Q; j++) { dpr[j] += du[j]; dpc[j] += du[j]; }
        if (act->n > 0) {
            float *dpa = w->dpa.p + (size_t)act->nodes[0] * Q;
            for (int j = 0; j < Q; j++) dpa[j] += du[j];
            float s = 1.0f / (float)act->n;
            for (int i = 0; i < act->n; i++) {
                float *dpm = w->dpm.p + (size_t)act->nodes[i] * Q;
                for (int j = 0; j < Q; j++) dpm[j] += s * du[j];
            }
        }
    }
    const float *hK = c->h.p + (size_t)K * nH;
    float *dh = w->dcur.p; /* gradient w.r.t. h_k, walked from k = K down to 0 */
    memset(dh, 0, nH * sizeof(float));
    nn_linear_backward(dctx, G(p, hb + T_Q1_CTX), G(p, hb + T_PTR_B1), c->ctx.p, T(p, hb + T_Q1_CTX), dpc, 1, C, Q);
    nn_linear_backward(G(p, hb + T_RULE_EMB), G(p, hb + T_Q1_RULE), NULL, T(p, hb + T_RULE_EMB), T(p, hb + T_Q1_RULE),
                       w->dpr.p, cf->n_rules + 1, H, Q);
    nn_linear_backward(dh, G(p, hb + T_Q1_ANCHOR), NULL, hK, T(p, hb + T_Q1_ANCHOR), w->dpa.p, n, H, Q);
    nn_linear_backward(dh, G(p, hb + T_Q1_SITE), NULL, hK, T(p, hb + T_Q1_SITE), w->dpm.p, n, H, Q);

    /* value head: V = v2·relu(V1·ctx + b1) + b2 */
    if (dvalue != 0.0f) {
        const float *v2 = T(p, hb + T_VAL_V2);
        float *gv2 = G(p, hb + T_VAL_V2);
        G(p, hb + T_VAL_B2)[0] += dvalue;
        for (int j = 0; j < Q; j++) {
            gv2[j] += dvalue * c->vh.p[j];
            dvh[j] = c->vh.p[j] > 0.0f ? dvalue * v2[j] : 0.0f;
        }
        nn_linear_backward(dctx, G(p, hb + T_V1), G(p, hb + T_VAL_B1), c->ctx.p, T(p, hb + T_V1), dvh, 1, C, Q);
    }

    /* context -> h_K (w and global are inputs: no gradient) */
    nn_mean_pool_backward(dh, dctx, n, H);
    nn_max_pool_backward(dh, dctx + H, c->argmax, H);

    /* rounds, last to first: h_{k+1} = h_k + relu(Ws h_k + Wi ain + Wo aout + b) */
    for (int k = K - 1; k >= 0; k--) {
        const float *hk = c->h.p + (size_t)k * nH;
        const float *ain = c->ain.p + (size_t)k * nH, *aout = c->aout.p + (size_t)k * nH, *r = c->r.p + (size_t)k * nH;
        int t = T_ROUNDS + 4 * k;
        float *dpre = w->dpre.p, *dain = w->dain.p, *daout = w->daout.p;
        memset(dpre, 0, nH * sizeof(float));
        memset(dain, 0, nH * sizeof(float));
        memset(daout, 0, nH * sizeof(float));
        nn_relu_backward(dpre, r, dh, nH);
        /* dh already holds the residual path's gradient; the layer's paths add to it */
        nn_linear_backward(dh, G(p, t + R_WS), G(p, t + R_B), hk, T(p, t + R_WS), dpre, n, H, H);
        nn_linear_backward(dain, G(p, t + R_WI), NULL, ain, T(p, t + R_WI), dpre, n, H, H);
        nn_linear_backward(daout, G(p, t + R_WO), NULL, aout, T(p, t + R_WO), dpre, n, H, H);
        nn_edge_mean_backward(dh, dain, obs->edge_src, obs->edge_dst, obs->n_edges, c->inv_in.p, H);
        nn_edge_mean_backward(dh, daout, obs->edge_dst, obs->edge_src, obs->n_edges, c->inv_out.p, H);
    }

    /* embed: h_0 = relu(We x + be); x is an input */
    float *dpre = w->dpre.p;
    memset(dpre, 0, nH * sizeof(float));
    nn_relu_backward(dpre, c->h.p, dh, nH);
    nn_linear_backward(NULL, G(p, T_EMBED_W), G(p, T_EMBED_B), obs->x, T(p, T_EMBED_W), dpre, n, cf->feat_dim, H);
}

int policy_set_op_layout(Policy *p, const char *const *names, int n, Err *err) {
    if (n < 0 || n >= p->cfg.feat_dim) return err_set(err, ERR_INPUT, "policy: %d op columns for a feature width of %d", n, p->cfg.feat_dim);
    char **copy = calloc((size_t)n + 1, sizeof *copy);
    if (!copy) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int i = 0; i < n; i++)
        if (!names[i] || !(copy[i] = strdup(names[i]))) {
            for (int j = 0; j < i; j++) free(copy[j]);
            free(copy);
            return names[i] ? err_set(err, ERR_RUNTIME, "out of memory") : err_set(err, ERR_INPUT, "policy: op column %d has no name", i);
        }
    for (int i = 0; i < p->n_op_names; i++) free(p->op_names[i]);
    free(p->op_names);
    p->op_names = copy;
    p->n_op_names = n;
    return 0;
}

const char *const *policy_op_layout(const Policy *p, int *n) {
    *n = p->n_op_names;
    return p->op_names ? (const char *const *)p->op_names : NULL;
}
