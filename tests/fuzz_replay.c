/* fuzz_replay.c - replays a libFuzzer target's kept inputs as a cmocka suite, without libFuzzer:
 * the Makefile links this file with fuzz/<target>.c (FUZZ_TARGET names it) into
 * build/tests/test_replay_<target>, one binary per target, which `make test` runs with the other
 * suites (under ASan/UBSan in `make test-asan`, where the targets' own checks and the sanitizers
 * both abort on a bad input). Every target must have a seed corpus (fuzz/seeds/<target>/, not
 * empty: `make fuzz` starts from it) and a regression folder (tests/fixtures/regress/<target>/,
 * the crashing inputs fuzzing found, kept once fixed); every file of both goes through the
 * target's LLVMFuzzerTestOneInput, which aborts on any broken contract. */
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the fuzz target (the Makefile sets it)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* runs every regular file of dir through the target; returns how many */
static int replay_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        print_error("%s does not exist: every fuzz target needs it (see tests/fuzz_replay.c)\n", dir);
        fail();
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "README.md")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        uint8_t *data = NULL;
        size_t len = 0;
        Err err;
        CHECK_OK(read_file_bytes(path, &data, &len, &err), &err);
        print_message("[ replay   ] %s %s (%zu bytes)\n", FUZZ_TARGET, path, len);
        /* libFuzzer hands the target a buffer of exactly len bytes: copy so ASan sees overreads */
        uint8_t *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        if (len) memcpy(exact, data, len);
        assert_int_equal(LLVMFuzzerTestOneInput(exact, len), 0);
        free(exact);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

static void test_seeds(void **state) {
    (void)state;
    int n = replay_dir("fuzz/seeds/" FUZZ_TARGET);
    print_message("[ replay   ] %s: %d seed inputs\n", FUZZ_TARGET, n);
    assert_true(n >= 1); /* an empty corpus: fuzzing starts from nothing and this replays nothing */
}

static void test_regressions(void **state) {
    (void)state;
    int n = replay_dir("tests/fixtures/regress/" FUZZ_TARGET);
    print_message("[ replay   ] %s: %d regression inputs\n", FUZZ_TARGET, n);
    assert_true(n >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_seeds), cmocka_unit_test(test_regressions)};
    return cmocka_run_group_tests_name("replay_" FUZZ_TARGET, tests, NULL, NULL);
}
