/* policy.h - the agent's network: a graph neural network over the graph being optimized and a
 * pointer head that scores every legal (rule, site) action, plus a value head; conditioned on
 * the reward weights w so one policy serves every latency/memory/accuracy trade-off.
 *
 *   embed      h0[v]   = relu(We·x[v] + be)                               x: node features
 *   K rounds   h'[v]   = h[v] + relu(Ws·h[v] + Wi·mean_{u->v} h[u] + Wo·mean_{v->u} h[u] + b)
 *                        (messages along data edges in both directions; residual)
 *   global     g       = [mean_v h[v], max_v h[v]]
 *   context    c       = [g, w, obs->global]
 *   action a = (rule r, site S with anchor s0):
 *              z_a     = [h[s0], mean_{s in S} h[s], E[r], c]     E = learned rule embeddings
 *              logit_a = q2·relu(Q1·z_a + q1b) + q2b + log_prior_a   (from the env)
 *   value      V       = v2·relu(V1·c + v1b) + v2b
 * STOP is rule index n_rules (its own embedding row); its site is empty (zero site vectors).
 *
 * Every parameter lives in one flat float array (policy_params) so Adam, gradient clipping,
 * checkpoints and MPI all-reduce treat the network as one vector; gradients likewise.
 * Forward and backward are written by hand (nn.h has the layers); tests check every layer and
 * the whole network against finite differences.
 *
 * File format (policy_save / policy_load; little-endian):
 *   "GRPOLICY" | u32 format version (POLICY_FORMAT_VERSION) | u32 features version |
 *   PolicyConfig as i32s | u32 n_rules, then each rule name (u32 length + bytes) |
 *   (format 2:) u32 n_ops, then each op name of the feature layout's one-hot columns |
 *   u64 n_params, then the params as f32 | u64 extra length, then the extra bytes (the
 *   trainer's checkpoint state; empty in a shipped policy) | u64 FNV-1a hash of everything
 *   before it.
 * A short, corrupt, foreign or other-version file is ERR_INPUT with a message saying which. */
#ifndef GRAPPO_POLICY_H
#define GRAPPO_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../rewrite/rule.h"
#include "../util/err.h"

#define POLICY_FORMAT_VERSION 2 /* 2: the op layout; format 1 files (without it) are still read */
#define POLICY_W_DIM 3        /* (w_lat, w_mem, w_acc), normalized to sum 1 by the env */
#define POLICY_GLOBAL_DIM 4   /* extra graph-level inputs the env provides (see env.h) */
#define POLICY_MAX_RULES 128

typedef struct PolicyConfig {
    int feat_dim;     /* node feature width (features_dim()) */
    int features_version;
    int n_rules;      /* rule embeddings besides STOP */
    int hidden;       /* node embedding width H (default 32) */
    int rounds;       /* message-passing rounds K (default 3) */
    int head_hidden;  /* hidden width of the pointer and value heads (default 64) */
} PolicyConfig;

/* one legal action, in the env's terms translated to the policy's */
typedef struct PolicyAction {
    int rule;                  /* 0..n_rules-1, or n_rules for STOP */
    int n;                     /* site nodes that have a feature node (0 for STOP) */
    int nodes[SITE_MAX_NODES]; /* feature-node indices; nodes[0] is the anchor */
    /* a constant the env adds to the action's logit (no gradient): -ln(number of sites of the
       action's rule), so a rule with 50 sites does not get 50 times the probability of a rule
       with one - the policy picks rules by their sites' mean score, not their count */
    float log_prior;
} PolicyAction;

/* one observation: everything the network reads. Arrays are borrowed. */
typedef struct PolicyObs {
    int n_nodes;              /* feature nodes (>= 1) */
    const float *x;           /* n_nodes x feat_dim, row-major */
    int n_edges;
    const int *edge_src;      /* producer feature node */
    const int *edge_dst;      /* consumer feature node */
    float w[POLICY_W_DIM];
    float global[POLICY_GLOBAL_DIM];
    int n_actions;            /* >= 1 (STOP is always legal) */
    const PolicyAction *actions;
} PolicyObs;

typedef struct Policy Policy;
typedef struct PolicyCache PolicyCache; /* activations kept by forward for backward */

/* defaults for the sizes above (hidden 32, rounds 3, head_hidden 64) */
PolicyConfig policy_config_default(int feat_dim, int features_version, int n_rules);

/* number of parameters a policy of this configuration has; 0 when the configuration is out of
   range (sizes <= 0 or above the limits policy_new enforces) */
size_t policy_config_n_params(const PolicyConfig *cfg);

/* New policy with weights drawn from rng seeded by seed (scaled uniform init, zero biases;
   the pointer head's last layer scaled by 0.01 so a new policy is close to uniform).
   rule_names[0..n_rules) are stored in the policy (copied). */
Policy *policy_new(const PolicyConfig *cfg, const char *const *rule_names, uint64_t seed, Err *err);
void policy_free(Policy *p);
const PolicyConfig *policy_config(const Policy *p);
/* index of the rule in the policy's embedding table, or -1 */
int policy_rule_index(const Policy *p, const char *rule_name);
/* the rule's name; index n_rules gives "STOP"; NULL outside 0..n_rules */
const char *policy_rule_name(const Policy *p, int index);

/* The named tensors of the flat parameter vector, in layout order (the layout is documented
   in policy.c): tests and logs use them to address every tensor without knowing the layout. */
typedef struct PolicyTensor {
    char name[24];   /* e.g. "embed.W", "round1.Wi", "rule_emb", "ptr.Q1_site", "value.b2" */
    size_t offset;   /* first element in policy_params */
    int rows, cols;  /* a matrix is rows x cols row-major; a vector has cols 1 */
} PolicyTensor;
int policy_n_tensors(const Policy *p);
/* tensor i (0 <= i < policy_n_tensors), NULL otherwise */
const PolicyTensor *policy_tensor(const Policy *p, int i);

size_t policy_n_params(const Policy *p);
float *policy_params(Policy *p);
const float *policy_params_const(const Policy *p);
float *policy_grads(Policy *p);
void policy_zero_grad(Policy *p);

PolicyCache *policy_cache_new(void);
void policy_cache_free(PolicyCache *c);

/* Scores obs: logits[0..n_actions) and the state value. The cache keeps what backward needs
   (one observation at a time; reusing a cache for the next forward overwrites it).
   ERR_INPUT on malformed observations (indices out of range, no actions). */
int policy_forward(const Policy *p, const PolicyObs *obs, PolicyCache *c, float *logits, float *value, Err *err);
/* Accumulates into policy_grads the gradient of a loss L given dL/dlogits[0..n_actions) and
   dL/dvalue for the observation of the last forward with cache c. */
void policy_backward(Policy *p, const PolicyObs *obs, const PolicyCache *c, const float *dlogits, float dvalue);

/* The feature layout the policy was trained with: the op name of each one-hot feature column,
   in column order (feat_dim = n + the numeric features). set copies the names; get returns
   NULL (*n = 0) for a policy read from a format 1 file, which did not record it. */
int policy_set_op_layout(Policy *p, const char *const *names, int n, Err *err);
const char *const *policy_op_layout(const Policy *p, int *n);

/* Writes the policy (and the caller's opaque extra bytes, may be NULL/0) atomically. */
int policy_save(const Policy *p, const char *path, const void *extra, size_t extra_len, Err *err);
/* Loads a policy; *extra (if extra != NULL) receives a malloc'd copy of the extra bytes. */
Policy *policy_load(const char *path, void **extra, size_t *extra_len, Err *err);
/* FNV-1a 64 of the parameters: a fingerprint for logs and determinism tests */
uint64_t policy_fingerprint(const Policy *p);

#endif
