/* test_target_tf.c - `--target tf` keeps to what stock TensorFlow executes, checked against a
 * snapshot taken from TensorFlow itself (tests/fixtures/tf_ops.json, made by
 * tools/tf_op_snapshot.py from TensorFlow 2.20's op and CPU kernel registries, with every
 * _FusedConv2D / _FusedDepthwiseConv2dNative / _FusedMatMul fused_ops pattern executed by
 * TensorFlow to see which run): every node's op must be registered, each type attribute must
 * name a type a CPU kernel of that op accepts, and a fused node's (fused_ops, T) must be one
 * TensorFlow ran.
 *   - the checker itself: the five real fixtures (graphs TensorFlow made) pass it; grappo's
 *     own ops, a fused pattern TensorFlow refuses and a wrong T fail it;
 *   - every RULE_TF rule, the precision ones included (weights_fp16, quantize_gather_int8, after
 *     calibration), applied to exhaustion on zoo models and real fixtures: the result passes;
 *   - through the CLI: `grappo optimize --target tf` with greedy and ppo writes graphs that
 *     pass, with rewrites applied. */
#include "testreal.h"
#include "testcli.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rewrite/calibrate.h"
#include "rewrite/pipeline.h"

static cJSON *snap;

static int setup(void **state) {
    (void)state;
    char *text = tu_read_text("tests/fixtures/tf_ops.json");
    if (!text) return -1;
    snap = cJSON_Parse(text);
    free(text);
    return snap ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    cJSON_Delete(snap);
    return 0;
}

static const char *tf_type_name(int dt) {
    for (const cJSON *e = cJSON_GetObjectItem(snap, "dtype_enum")->child; e; e = e->next)
        if ((int)e->valuedouble == dt) return e->string;
    return "?";
}

/* NULL when TensorFlow executes node i of g, else why not (static buffer) */
static const char *tf_refuses(const Graph *g, int i) {
    static char why[512];
    const Node *n = g->nodes[i];
    const cJSON *op = cJSON_GetObjectItem(cJSON_GetObjectItem(snap, "ops"), n->op_name);
    if (!op) {
        snprintf(why, sizeof why, "op %s is not in TensorFlow's op registry", n->op_name);
        return why;
    }
    for (const cJSON *a = op->child; a; a = a->next) {
        const Attr *at = node_attr_find(n, a->string);
        if (!at || at->kind != ATTR_TYPE || cJSON_IsNull(a)) continue; /* null: a kernel takes any type */
        const char *t = tf_type_name(at->type);
        bool ok = false;
        for (const cJSON *v = a->child; v && !ok; v = v->next) ok = !strcmp(v->valuestring, t);
        if (!ok) {
            snprintf(why, sizeof why, "%s with %s=%s: no CPU kernel of TensorFlow takes that type", n->op_name, a->string, t);
            return why;
        }
    }
    const cJSON *pats = cJSON_GetObjectItem(cJSON_GetObjectItem(snap, "fused"), n->op_name);
    if (pats) {
        const Attr *fo = node_attr_find(n, "fused_ops");
        const Attr *T = node_attr_find(n, "T");
        if (!fo || fo->kind != ATTR_LIST || !T) {
            snprintf(why, sizeof why, "%s without fused_ops or T", n->op_name);
            return why;
        }
        const char *t = tf_type_name(T->type);
        for (const cJSON *p = pats->child; p; p = p->next) {
            const cJSON *ops = cJSON_GetObjectItem(p, "fused_ops");
            if (strcmp(cJSON_GetObjectItem(p, "T")->valuestring, t) || cJSON_GetArraySize(ops) != fo->list.n) continue;
            bool same = true;
            for (int k = 0; k < fo->list.n && same; k++) {
                const char *want = cJSON_GetArrayItem(ops, k)->valuestring;
                same = strlen(want) == fo->list.s[k].len && !memcmp(want, fo->list.s[k].data, fo->list.s[k].len);
            }
            if (same) return NULL;
        }
        int len = snprintf(why, sizeof why, "%s T=%s fused_ops [", n->op_name, t);
        for (int k = 0; k < fo->list.n && len < 400; k++)
            len += snprintf(why + len, sizeof why - (size_t)len, "%s%.*s", k ? "," : "", (int)fo->list.s[k].len, fo->list.s[k].data);
        snprintf(why + len, sizeof why - (size_t)len, "]: TensorFlow does not run that pattern");
        return why;
    }
    return NULL;
}

/* prints every node TensorFlow would not run (at most 3 per graph); returns how many */
static int tf_violations(const Graph *g, const char *what) {
    int bad = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const char *why = tf_refuses(g, i);
        if (why && bad++ < 3) print_error("%s: node '%s': %s\n", what, g->nodes[i]->name, why);
    }
    return bad;
}

/* fails the test when TensorFlow would not run some node of g */
static void check_tf(const Graph *g, const char *what) { assert_int_equal(tf_violations(g, what), 0); }

/* ------------------------------------------------------------------------------------------- */

static void test_checker(void **state) {
    (void)state;
    Err e = {0};
    cJSON *ver = cJSON_GetObjectItem(snap, "tensorflow");
    assert_non_null(ver);
    printf("[ target tf] snapshot of TensorFlow %s: %d ops\n", ver->valuestring, cJSON_GetArraySize(cJSON_GetObjectItem(snap, "ops")));
    for (int k = 0; k < TR_N_FIXTURES; k++) {
        Fixture f;
        fixture_load(TR_FIXTURES[k], &f);
        check_tf(f.g, TR_FIXTURES[k]); /* graphs TensorFlow made pass */
        /* and the checker can fail: a fused pattern TensorFlow refuses, a wrong T, grappo's op */
        for (int i = 0; i < f.g->n_nodes; i++) {
            Node *n = f.g->nodes[i];
            if (strcmp(n->op_name, "_FusedConv2D")) continue;
            Graph *c = graph_clone(f.g, &e);
            const char *bad[] = {"BiasAdd", "Add", "Sigmoid"}; /* runs for _FusedMatMul's Sigmoid, not this */
            CHECK_OK(node_set_attr_list_s(c->nodes[i], "fused_ops", bad, 3, &e), &e);
            assert_non_null(tf_refuses(c, i));
            graph_free(c);
            c = graph_clone(f.g, &e);
            CHECK_OK(node_set_attr_type(c->nodes[i], "T", DT_INT32, &e), &e);
            assert_non_null(tf_refuses(c, i));
            snprintf(c->nodes[i]->op_name, strlen(c->nodes[i]->op_name) + 1, "%s", "Grappo");
            assert_non_null(tf_refuses(c, i));
            graph_free(c);
            break;
        }
        fixture_free(&f);
    }
}

/* every rule flagged RULE_TF, precision ones included, to exhaustion after calibration; each
   precision rule must apply when the graph has what it takes (large weights; quantize_gather_int8:
   an embedding table) */
static void all_tf_rules(Graph *g, const char *what, bool has_weights, bool has_table) {
    Err e = {0};
    RefFeed **b;
    int nf;
    CHECK_OK(calib_batches_generate(g, 2, &b, &nf, &e), &e);
    CHECK_OK(calibrate_graph(g, (const RefFeed *const *)b, 2, nf, CALIB_MINMAX, &e) < 0, &e);
    calib_batches_free(b, 2, nf);
    int n_rules;
    const RuleDef *const *rules = rules_all(&n_rules);
    const char *exact[64], *prec[64];
    int ne = 0, np = 0;
    for (int i = 0; i < n_rules; i++) {
        if (!(rules[i]->flags & RULE_TF)) continue;
        if (rules[i]->flags & RULE_PRECISION) prec[np++] = rules[i]->name;
        else exact[ne++] = rules[i]->name;
    }
    assert_true(np >= 1); /* weights_fp16 claims RULE_TF (bf16_compute did, wrongly: TF refuses bf16 _FusedConv2D) */
    Graph *orig = graph_clone(g, &e);
    RewriteLog log = {0};
    CHECK_OK(pipeline_fixed_point(exact, ne, g, RULE_TF, 8, &log, &e), &e);
    check_tf(g, what);
    assert_true(tr_compare(orig, g, false, 2) <= 1e-4);
    int exact_total = log.total;
    /* each precision rule on its own, then all of them */
    int bad = 0;
    for (int k = 0; k <= np; k++) {
        Graph *c = graph_clone(g, &e);
        RewriteLog pl = {0};
        CHECK_OK(pipeline_fixed_point(k < np ? &prec[k] : prec, k < np ? 1 : np, c, RULE_TF, 4, &pl, &e), &e);
        char w[256];
        snprintf(w, sizeof w, "%s + %s", what, k < np ? prec[k] : "all precision rules");
        int v = tf_violations(c, w);
        bad += v;
        printf("[ target tf] %-34s %3d exact + %3d precision rewrites, %d nodes TensorFlow does not run\n", w, exact_total, pl.total, v);
        bool table_rule = k < np && !strcmp(prec[k], "quantize_gather_int8");
        if (table_rule ? has_table : has_weights) assert_true(pl.total > 0);
        graph_free(c);
    }
    assert_true(exact_total > 0);
    assert_int_equal(bad, 0);
    graph_free(orig);
}

static void test_rules_tf(void **state) {
    (void)state;
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    all_tf_rules(g, "resnet8", true, false);
    graph_free(g);
    g = tr_zoo("mobilenet_v2", 96, 0, 0, true);
    all_tf_rules(g, "mobilenet_v2", true, false);
    graph_free(g);
    g = tr_zoo("bert-tiny", 0, 16, 0, false);
    all_tf_rules(g, "bert-tiny", true, true); /* its 30522 x 128 word embeddings */
    graph_free(g);
    g = tr_zoo("random", 0, 0, 0, true);
    all_tf_rules(g, "random DAG", false, false); /* no weights to store in fp16 */
    graph_free(g);
    const char *fx[] = {"handlandmark-lite", "selfie"};
    for (int k = 0; k < 2; k++) {
        Fixture f;
        fixture_load(fx[k], &f);
        all_tf_rules(f.g, fx[k], true, false);
        fixture_free(&f);
    }
}

/* ------------------------------------------------------------------------------------------- */
/* through the CLI */

/* `grappo optimize MODEL --target tf --search S`, retried (3 times at most) while the result is
   refused for timing only; the written graph passes the snapshot and holds rewrites */
static void cli_target_tf(const char *model, const char *search, const char *extra) {
    char args[2048], path[600];
    snprintf(path, sizeof path, "%s/out.pb", tmp);
    cJSON *j = NULL;
    for (int attempt = 0; attempt < 3; attempt++) {
        snprintf(args, sizeof args, "optimize %s -o %s --target tf --search %s --report %s/r.json --repeats 5 --eval-batches 2 --threads 1 %s",
                 model, path, search, tmp, extra);
        int rc = run("%s", args);
        if (rc != 0) {
            snprintf(path, sizeof path, "%s/stderr", tmp);
            char *err = tu_read_text(path);
            print_error("grappo %s: exit %d: %s\n", args, rc, err ? err : "");
            free(err);
            fail();
        }
        snprintf(path, sizeof path, "%s/r.json", tmp);
        char *text = tu_read_text(path);
        assert_non_null(text);
        cJSON_Delete(j);
        j = cJSON_Parse(text);
        free(text);
        assert_non_null(j);
        snprintf(path, sizeof path, "%s/out.pb", tmp);
        if (cJSON_IsTrue(cJSON_GetObjectItem(j, "optimized_graph_returned"))) break;
        /* the searches keep a candidate only when it is measured faster than the input: on a
           busy machine that can fail for all of them ("no rewrite was applied") or for the
           final comparison ("not faster"); both are timing, try again */
        const char *v = cJSON_GetObjectItem(j, "verdict")->valuestring;
        if (!strstr(v, "faster") && !strstr(v, "no rewrite")) break;
        print_message("[ target tf] attempt %d: %s (timing): again\n", attempt + 1, v);
    }
    assert_string_equal(cJSON_GetObjectItem(j, "target")->valuestring, "tf");
    int applied = 0;
    for (cJSON *r = cJSON_GetObjectItem(j, "rules_applied")->child; r; r = r->next) {
        const RuleDef *rd = rule_by_name(r->string);
        assert_non_null(rd);
        assert_true(rd->flags & RULE_TF);
        applied += (int)r->valuedouble;
    }
    bool returned = cJSON_IsTrue(cJSON_GetObjectItem(j, "optimized_graph_returned"));
    printf("[ target tf] optimize %s --search %s: %d rewrites, %s\n", model, search, applied,
           cJSON_GetObjectItem(j, "verdict")->valuestring);
    if (!returned) { print_error("the --target tf result was not returned: nothing written to check\n"); fail(); }
    assert_true(applied > 0);
    cJSON_Delete(j);
    Err e = {0};
    Graph *g = graphdef_load(path, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    char what[600];
    snprintf(what, sizeof what, "%s --search %s", model, search);
    check_tf(g, what);
    graph_free(g);
}

static void test_cli_target_tf(void **state) {
    (void)state;
    assert_int_equal(cli_init("grappo_tf_"), 0);
    cli_target_tf("zoo:resnet8", "greedy", "--budget 12");
    cli_target_tf("zoo:resnet8", "ppo", "--budget 4 --episodes 2 --cost roofline");
    cli_target_tf("tests/fixtures/real/handlandmark-lite/model.pb", "ppo", "--budget 4 --episodes 1 --cost roofline");
    assert_int_equal(cli_cleanup(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker),
        cmocka_unit_test(test_rules_tf),
        cmocka_unit_test(test_cli_target_tf),
    };
    return cmocka_run_group_tests_name("target_tf", tests, setup, teardown);
}
