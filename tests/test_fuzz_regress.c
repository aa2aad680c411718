/* test_fuzz_regress.c - replays the findings of the structure-aware fuzzer: every file in
 * tests/fixtures/regress/fuzz_graph_struct/ goes through fuzz/fuzz_graph_struct.c's own
 * checks (generate the graph, round trip, both runtimes, grappler). A finding aborts, which
 * fails this suite; the file names say what each one found. */
#include "testutil.h"

#include <dirent.h>

#include "../fuzz/fuzz_graph_struct.c"

#define DIR_PATH "tests/fixtures/regress/fuzz_graph_struct"

static void test_replay_findings(void **state) {
    (void)state;
    DIR *d = opendir(DIR_PATH);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", DIR_PATH, e->d_name);
        uint8_t *data = NULL;
        size_t len = 0;
        Err err = {0};
        CHECK_OK(read_file_bytes(path, &data, &len, &err), &err);
        print_message("replaying %s\n", e->d_name);
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        n++;
    }
    closedir(d);
    assert_true(n > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_replay_findings)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
