/* test_ppo.c - PPO: the math against hand-computed cases and finite differences (GAE, the
 * clipped surrogate, entropy, Adam, clipping, samplers), then training on a small corpus
 * (determinism, learning, checkpoint round trip) and `grappo train` surviving kill -9. */
#include "testutil.h"

#include <stdlib.h>

#include "search/ppo_math.h"

/* ---- GAE ---- */

static void test_gae_hand(void **s) {
    (void)s;
    /* one 3-step episode, then a 1-step episode (the boundary must stop the recursion) */
    float r[4] = {1, 2, 3, 5}, v[4] = {0.5f, 1, 2, 4};
    uint8_t done[4] = {0, 0, 1, 1};
    float adv[4], ret[4];
    ppo_gae(r, v, done, 4, 0.9, 0.8, adv, ret);
    /* t=2: delta = 3 - 2 = 1                 adv = 1
       t=1: delta = 2 + 0.9·2 - 1 = 2.8       adv = 2.8 + 0.72·1 = 3.52
       t=0: delta = 1 + 0.9·1 - 0.5 = 1.4     adv = 1.4 + 0.72·3.52 = 3.9344
       t=3: delta = 5 - 4 = 1                 adv = 1 (not 1 + 0.72·anything) */
    const double want_adv[4] = {3.9344, 3.52, 1, 1};
    for (int t = 0; t < 4; t++) {
        assert_true(fabs(adv[t] - want_adv[t]) < 1e-5);
        assert_true(fabs(ret[t] - (want_adv[t] + v[t])) < 1e-5);
    }
    /* gamma = lambda = 1: advantage = return-to-go - V */
    ppo_gae(r, v, done, 4, 1, 1, adv, ret);
    assert_true(fabs(ret[0] - 6) < 1e-6 && fabs(ret[1] - 5) < 1e-6 && fabs(ret[2] - 3) < 1e-6 && fabs(ret[3] - 5) < 1e-6);
    /* the buffer's last step ends an episode even when done says otherwise */
    uint8_t open[2] = {0, 0};
    ppo_gae(r, v, open, 2, 1, 1, adv, ret);
    assert_true(fabs(ret[1] - 2) < 1e-6 && fabs(ret[0] - 3) < 1e-6);
}

static void test_normalize(void **s) {
    (void)s;
    float a[4] = {1, 2, 3, 6};
    ppo_normalize(a, 4); /* mean 3, population sd sqrt((4+1+0+9)/4) = sqrt(3.5) */
    double sd = sqrt(3.5);
    assert_true(fabs(a[0] - (-2 / sd)) < 1e-6 && fabs(a[3] - 3 / sd) < 1e-6);
}

/* ---- the per-sample loss ---- */

static double loss_at(const float *z, int n, int a, double old_logp, double adv, double value, double ret,
                      const PpoLossCoefs *c) {
    PpoSampleLoss o;
    float d[16], dv;
    assert_int_equal(ppo_sample_loss(z, n, a, old_logp, adv, value, ret, c, &o, d, &dv), 0);
    return o.policy_loss + c->vf_coef * o.value_loss - c->ent_coef * o.entropy;
}

/* dL/dlogits and dL/dV against central differences (in double, eps 1e-3 on float logits) */
static void check_fd(const float *z0, int n, int a, double old_logp, double adv, const PpoLossCoefs *c, bool want_clip) {
    float z[16], d[16], dv;
    memcpy(z, z0, sizeof(float) * n);
    PpoSampleLoss o;
    double value = 0.3, ret = 1.1;
    assert_int_equal(ppo_sample_loss(z, n, a, old_logp, adv, value, ret, c, &o, d, &dv), 0);
    assert_int_equal(o.clipped, want_clip);
    const double h = 1e-3;
    for (int i = 0; i < n; i++) {
        z[i] = z0[i] + (float)h;
        double lp = loss_at(z, n, a, old_logp, adv, value, ret, c);
        z[i] = z0[i] - (float)h;
        double lm = loss_at(z, n, a, old_logp, adv, value, ret, c);
        z[i] = z0[i];
        double fd = (lp - lm) / (2 * h);
        if (fabs(fd - d[i]) > 2e-4 + 1e-3 * fabs(fd)) {
            print_error("dlogit %d: analytic %.7g fd %.7g (clipped %d)\n", i, d[i], fd, o.clipped);
            fail();
        }
    }
    double fdv = (loss_at(z, n, a, old_logp, adv, value + h, ret, c) - loss_at(z, n, a, old_logp, adv, value - h, ret, c)) /
                 (2 * h);
    assert_true(fabs(fdv - dv) < 1e-5);
    assert_true(fabs(dv - 2 * c->vf_coef * (value - ret)) < 1e-6);
}

static void test_surrogate_grad(void **s) {
    (void)s;
    const float z[5] = {0.3f, -1.2f, 0.8f, 0.1f, -0.4f};
    PpoLossCoefs c = {.clip = 0.2, .vf_coef = 0.5, .ent_coef = 0.0};
    double probs[5];
    double lse = ppo_softmax(z, 5, probs);
    double logp2 = z[2] - lse;
    /* unclipped: ratio 1.1 inside [0.8, 1.2], both signs of the advantage */
    check_fd(z, 5, 2, logp2 - log(1.1), 1.7, &c, false);
    check_fd(z, 5, 2, logp2 - log(1.1), -0.9, &c, false);
    /* outside the region but in the direction the clip does not bind: still unclipped */
    check_fd(z, 5, 2, logp2 - log(1.5), -0.9, &c, false); /* ratio 1.5, A < 0: min is ratio·A */
    check_fd(z, 5, 2, logp2 - log(0.5), 1.7, &c, false);  /* ratio 0.5, A > 0: min is ratio·A */
    /* clipped: ratio 1.5 with A > 0, ratio 0.5 with A < 0 -> zero surrogate gradient */
    check_fd(z, 5, 2, logp2 - log(1.5), 1.7, &c, true);
    check_fd(z, 5, 2, logp2 - log(0.5), -0.9, &c, true);
    float d[5], dv;
    PpoSampleLoss o;
    ppo_sample_loss(z, 5, 2, logp2 - log(1.5), 1.7, 0, 0, &c, &o, d, &dv);
    for (int i = 0; i < 5; i++) assert_true(d[i] == 0.0f);
    assert_true(fabs(o.policy_loss - (-1.2 * 1.7)) < 1e-6); /* -clip(1.5)·A */
    assert_true(fabs(o.ratio - 1.5) < 1e-6);
    /* unclipped closed form: dL/dz_i = -A·ratio·([i=a] - p_i) */
    ppo_sample_loss(z, 5, 2, logp2 - log(1.1), 1.7, 0, 0, &c, &o, d, &dv);
    for (int i = 0; i < 5; i++) assert_true(fabs(d[i] - (-1.7 * 1.1 * ((i == 2) - probs[i]))) < 1e-5);
    /* with an entropy bonus the whole loss still matches finite differences */
    c.ent_coef = 0.05;
    check_fd(z, 5, 2, logp2 - log(1.1), 1.7, &c, false);
    check_fd(z, 5, 2, logp2 - log(1.5), 1.7, &c, true);
    /* bad action index */
    assert_int_equal(ppo_sample_loss(z, 5, 5, 0, 1, 0, 0, &c, &o, d, &dv), -1);
}

static void test_entropy_grad(void **s) {
    (void)s;
    float z[6] = {0.5f, -0.3f, 2.0f, 0.0f, -1.5f, 0.7f}, dH[6];
    double H = ppo_entropy(z, 6, dH);
    double p[6];
    ppo_softmax(z, 6, p);
    double want = 0;
    for (int i = 0; i < 6; i++) want -= p[i] * log(p[i]);
    assert_true(fabs(H - want) < 1e-9);
    for (int i = 0; i < 6; i++) {
        float zp[6], zm[6];
        memcpy(zp, z, sizeof z);
        memcpy(zm, z, sizeof z);
        zp[i] += 1e-3f;
        zm[i] -= 1e-3f;
        double fd = (ppo_entropy(zp, 6, NULL) - ppo_entropy(zm, 6, NULL)) / (zp[i] - zm[i]);
        assert_true(fabs(fd - dH[i]) < 1e-5);
    }
    /* uniform logits: maximum entropy ln n, zero gradient */
    float u[4] = {2, 2, 2, 2}, du[4];
    assert_true(fabs(ppo_entropy(u, 4, du) - log(4.0)) < 1e-12);
    for (int i = 0; i < 4; i++) assert_true(fabs(du[i]) < 1e-7);
}

/* ---- optimizer ---- */

static void test_adam_by_hand(void **s) {
    (void)s;
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.1f}, m[2] = {0.1f, 0.0f}, v[2] = {0.01f, 0.04f};
    AdamParams a = {.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    ppo_adam_step(p, g, m, v, 2, 3, &a);
    /* element 0: m = 0.09 + 0.05 = 0.14; v = 0.00999 + 0.00025 = 0.01024
       mhat = 0.14 / (1 - 0.729) = 0.516605; vhat = 0.01024 / (1 - 0.997003) = 3.416750
       p = 1 - 0.01·0.516605 / (1.848445 + 1e-8) = 0.997205 */
    assert_true(fabs(m[0] - 0.14) < 1e-7 && fabs(v[0] - 0.01024) < 1e-8);
    double mhat = 0.14 / (1 - 0.729), vhat = 0.01024 / (1 - pow(0.999, 3));
    assert_true(fabs(p[0] - (1 - 0.01 * mhat / (sqrt(vhat) + 1e-8))) < 1e-6);
    assert_true(fabs(p[0] - 0.997205) < 2e-6);
    /* element 1: m = -0.01, v = 0.03996 + 0.00001 = 0.03997 */
    assert_true(fabs(m[1] + 0.01) < 1e-8 && fabs(v[1] - 0.03997) < 1e-8);
    double mh1 = -0.01 / (1 - 0.729), vh1 = 0.03997 / (1 - pow(0.999, 3));
    assert_true(fabs(p[1] - (-2 - 0.01 * mh1 / (sqrt(vh1) + 1e-8))) < 1e-6);
    /* first step from zero moments moves each parameter by lr·sign(g) */
    float q[3] = {0, 0, 0}, gq[3] = {3, -0.002f, 0}, mq[3] = {0}, vq[3] = {0};
    ppo_adam_step(q, gq, mq, vq, 3, 1, &a);
    assert_true(fabs(q[0] + 0.01) < 1e-7 && fabs(q[1] - 0.01) < 1e-6 && q[2] == 0);
}

static void test_clip_norm(void **s) {
    (void)s;
    float g[3] = {3, 4, 12}; /* norm 13 */
    double n = ppo_clip_grad_norm(g, 3, 6.5);
    assert_true(fabs(n - 13) < 1e-9);
    assert_true(fabs(g[0] - 1.5) < 1e-6 && fabs(g[1] - 2) < 1e-6 && fabs(g[2] - 6) < 1e-6);
    assert_true(fabs(ppo_clip_grad_norm(g, 3, 100) - 6.5) < 1e-6); /* below: unchanged */
    assert_true(fabs(g[2] - 6) < 1e-6);
    assert_true(fabs(ppo_clip_grad_norm(g, 3, 0) - 6.5) < 1e-6);    /* 0 = no clipping */
}

/* ---- samplers ---- */

static void test_dirichlet(void **s) {
    (void)s;
    Rng r;
    rng_seed(&r, 7);
    double mean[3] = {0}, sq0 = 0;
    const int N = 20000;
    for (int k = 0; k < N; k++) {
        double w[3];
        ppo_dirichlet_ones(&r, 3, w);
        assert_true(fabs(w[0] + w[1] + w[2] - 1) < 1e-12);
        for (int i = 0; i < 3; i++) { assert_true(w[i] >= 0); mean[i] += w[i] / N; }
        sq0 += w[0] * w[0] / N;
    }
    /* Dirichlet(1,1,1): mean 1/3 each, var = (1·2)/(3²·4) = 1/18 */
    for (int i = 0; i < 3; i++) assert_true(fabs(mean[i] - 1.0 / 3) < 0.01);
    assert_true(fabs(sq0 - mean[0] * mean[0] - 1.0 / 18) < 0.005);
}

static void test_categorical(void **s) {
    (void)s;
    Rng r;
    rng_seed(&r, 11);
    float z[3] = {0, (float)log(2.0), (float)log(5.0)}; /* probabilities 1/8, 2/8, 5/8 */
    int count[3] = {0};
    const int N = 40000;
    for (int k = 0; k < N; k++) count[ppo_sample_categorical(&r, z, 3)]++;
    assert_true(fabs(count[0] / (double)N - 0.125) < 0.01);
    assert_true(fabs(count[1] / (double)N - 0.25) < 0.01);
    assert_true(fabs(count[2] / (double)N - 0.625) < 0.01);
    assert_int_equal(ppo_argmax(z, 3), 2);
    float tie[3] = {1, 4, 4};
    assert_int_equal(ppo_argmax(tie, 3), 1);
    float one[1] = {-3};
    assert_int_equal(ppo_sample_categorical(&r, one, 1), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gae_hand),       cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_surrogate_grad), cmocka_unit_test(test_entropy_grad),
        cmocka_unit_test(test_adam_by_hand),   cmocka_unit_test(test_clip_norm),
        cmocka_unit_test(test_dirichlet),      cmocka_unit_test(test_categorical),
    };
    return cmocka_run_group_tests_name("ppo", tests, NULL, NULL);
}
