/* test_partitioned.c - partitioned variables (saved in slices) are refused clearly: a TF1-style
 * SavedModel TensorFlow wrote (tools/make_partitioned_fixture.py) whose variable `w` is split in
 * two along axis 1. Its checkpoint opens (the slice entries, under OrderedCode keys starting
 * with a 0 byte, are left out of the table instead of failing it as "a key contains a NUL byte");
 * reading `w` and loading the model give ERR_INPUT, one line naming `w` and saying partitioned
 * variables are not supported. */
#include "testutil.h"

#include <string.h>

#include "io/model_load.h"
#include "io/tensor_bundle.h"

#define SM "tests/fixtures/saved_model/partitioned"

static void test_bundle_names_the_variable(void **state) {
    (void)state;
    Err err;
    TensorBundle *b = tensor_bundle_open(SM "/variables/variables", &err);
    if (!b) fail_msg("%s", err.msg);
    assert_true(tensor_bundle_has(b, "w"));
    Tensor t;
    assert_int_equal(tensor_bundle_read(b, "w", &t, &err), -1);
    assert_int_equal(err.code, ERR_INPUT);
    if (!strstr(err.msg, "'w' is a partitioned variable (saved in 2 slices)") ||
        !strstr(err.msg, "partitioned variables are not supported"))
        fail_msg("unexpected: %s", err.msg);
    tensor_bundle_close(b);
}

static void test_model_load_refuses(void **state) {
    (void)state;
    Err err;
    Graph *g = model_file_load(SM, NULL, &err);
    if (g) {
        graph_free(g);
        fail_msg("loaded a SavedModel with a partitioned variable");
    }
    assert_int_equal(err.code, ERR_INPUT);
    if (!strstr(err.msg, "'w' is a partitioned variable") || !strstr(err.msg, "not supported"))
        fail_msg("unexpected: %s", err.msg);
    assert_null(strchr(err.msg, '\n'));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_names_the_variable),
        cmocka_unit_test(test_model_load_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
