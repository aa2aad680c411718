/* ppo_ckpt.c - trainer checkpoints: the policy file (policy_save) whose extra bytes hold the
 * trainer state, so one atomic write covers both and a kill at any moment leaves the previous
 * checkpoint whole. The extra bytes (little-endian), version 2:
 *
 *   "GRPPOCKP" | u32 2 | u64 n_params | i32 iteration | i64 Adam step | f64 best gain |
 *   u32 K (rollout streams) | u64 rng state[K][4] | f32 m[n_params] | f32 v[n_params]
 *
 * Version 1 (one stream) is still read, for K = 1:
 *
 *   "GRPPOCKP" | u32 1 | u64 n_params | i32 iteration | i64 Adam step |
 *   u64 rng state[4] | f64 best gain | f32 m[n_params] | f32 v[n_params]
 *
 * The policy file's own checksum covers these bytes; load checks the layout and sizes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ppo_internal.h"

#define PPO_CKPT_MAGIC "GRPPOCKP"
#define PPO_CKPT_VERSION 2u
#define PPO_CKPT_V1_HEADER (8 + 4 + 8 + 4 + 8 + 32 + 8)
#define PPO_CKPT_V2_HEADER (8 + 4 + 8 + 4 + 8 + 8 + 4) /* then 32 bytes per stream */

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}
static uint8_t *put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint8_t *put_f32s(uint8_t *p, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        p = put_u32(p, u);
    }
    return p;
}
static const uint8_t *get_f32s(const uint8_t *p, float *x, size_t n) {
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t u = get_u32(p);
        memcpy(&x[i], &u, 4);
    }
    return p;
}

int ppo_checkpoint_save(const PpoTrainer *t, const char *path, Err *err) {
    size_t n = t->n_params, k = (size_t)t->n_streams, len = PPO_CKPT_V2_HEADER + 32 * k + 8 * n;
    uint8_t *buf = malloc(len), *p = buf;
    if (!buf) return err_set(err, ERR_RUNTIME, "out of memory");
    memcpy(p, PPO_CKPT_MAGIC, 8);
    p += 8;
    p = put_u32(p, PPO_CKPT_VERSION);
    p = put_u64(p, n);
    p = put_u32(p, (uint32_t)t->iteration);
    p = put_u64(p, (uint64_t)t->adam_t);
    uint64_t bg;
    memcpy(&bg, &t->best_gain, 8);
    p = put_u64(p, bg);
    p = put_u32(p, (uint32_t)k);
    /* all_rng, not the local streams: under MPI rank 0 saves the other ranks' streams too */
    for (size_t g = 0; g < k; g++)
        for (int i = 0; i < 4; i++) p = put_u64(p, t->all_rng[g].s[i]);
    p = put_f32s(p, t->m, n);
    p = put_f32s(p, t->v, n);
    int rc = policy_save(t->policy, path, buf, len, err);
    free(buf);
    return rc;
}

/* same network shape and rule table: otherwise the moments and parameters mean nothing */
static bool same_shape(const Policy *a, const Policy *b) {
    const PolicyConfig *x = policy_config(a), *y = policy_config(b);
    if (x->feat_dim != y->feat_dim || x->features_version != y->features_version || x->n_rules != y->n_rules ||
        x->hidden != y->hidden || x->rounds != y->rounds || x->head_hidden != y->head_hidden)
        return false;
    if (policy_n_params(a) != policy_n_params(b)) return false;
    for (int i = 0; i < x->n_rules; i++)
        if (strcmp(policy_rule_name(a, i), policy_rule_name(b, i)) != 0) return false;
    return true;
}

int ppo_checkpoint_load(PpoTrainer *t, const char *path, Err *err) {
    void *extra = NULL;
    size_t len = 0;
    Policy *p = policy_load(path, &extra, &len, err);
    if (!p) return -1;
    int rc = -1;
    const uint8_t *b = extra;
    size_t n = t->n_params;
    if (!same_shape(p, t->policy)) {
        err_set(err, ERR_INPUT, "%s: checkpoint policy has another shape or rule table than this trainer's", path);
        goto done;
    }
    if (len < 12 || memcmp(b, PPO_CKPT_MAGIC, 8) != 0) {
        err_set(err, ERR_INPUT, "%s: not a training checkpoint (no trainer state; a shipped policy?)", path);
        goto done;
    }
    uint32_t version = get_u32(b + 8);
    if (version != 1 && version != PPO_CKPT_VERSION) {
        err_set(err, ERR_INPUT, "%s: checkpoint state version %u, this build reads 1 and %u", path, version,
                PPO_CKPT_VERSION);
        goto done;
    }
    size_t k = 1, want;
    if (version == 1) {
        want = PPO_CKPT_V1_HEADER + 8 * n;
    } else {
        if (len < PPO_CKPT_V2_HEADER) {
            err_set(err, ERR_INPUT, "%s: checkpoint state truncated (%zu bytes)", path, len);
            goto done;
        }
        k = get_u32(b + PPO_CKPT_V2_HEADER - 4);
        want = PPO_CKPT_V2_HEADER + 32 * k + 8 * n;
    }
    if (len != want || get_u64(b + 12) != n) {
        err_set(err, ERR_INPUT, "%s: checkpoint state size mismatch (%zu bytes for %zu parameters)", path, len, n);
        goto done;
    }
    if (k != (size_t)t->n_streams) {
        err_set(err, ERR_INPUT, "%s: checkpoint of %zu rollout streams, this run has %d (processes x virtual ranks "
                "must match to resume)", path, k, t->n_streams);
        goto done;
    }
    const uint8_t *q = b + 20;
    int iteration = (int)get_u32(q);
    q += 4;
    int64_t adam_t = (int64_t)get_u64(q);
    q += 8;
    if (iteration < 0 || adam_t < 0) {
        err_set(err, ERR_INPUT, "%s: corrupt checkpoint state (negative counters)", path);
        goto done;
    }
    t->iteration = iteration;
    t->adam_t = adam_t;
    uint64_t bg;
    if (version == 1) {
        for (int i = 0; i < 4; i++, q += 8) t->all_rng[0].s[i] = get_u64(q);
        bg = get_u64(q);
        q += 8;
    } else {
        bg = get_u64(q);
        q += 8 + 4;
        for (size_t g = 0; g < k; g++)
            for (int i = 0; i < 4; i++, q += 8) t->all_rng[g].s[i] = get_u64(q);
    }
    memcpy(&t->best_gain, &bg, 8);
    for (int j = 0; j < t->n_local; j++) t->streams[j].rng = t->all_rng[t->streams[j].id];
    q = get_f32s(q, t->m, n);
    get_f32s(q, t->v, n);
    memcpy(policy_params(t->policy), policy_params_const(p), sizeof(float) * n);
    rc = 0;
done:
    free(extra);
    policy_free(p);
    return rc;
}
