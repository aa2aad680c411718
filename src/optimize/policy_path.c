/* policy_path.c - where the shipped policy is, for the CLI and for programs that embed
 * libgrappo (whose running binary is python or the user's program, not grappo). */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optimize.h"

/* the directory of the file holding `addr` (the grappo binary or libgrappo.so) into dir */
static bool dir_of_object(const void *addr, char *dir, size_t cap) {
    Dl_info info;
    if (!dladdr(addr, &info) || !info.dli_fname || !strchr(info.dli_fname, '/')) return false;
    char *real = realpath(info.dli_fname, NULL);
    if (!real) return false;
    char *slash = strrchr(real, '/');
    *slash = 0;
    snprintf(dir, cap, "%s", real);
    free(real);
    return true;
}

const char *optimize_default_policy_path(char *buf, size_t cap) {
    const char *env = getenv("GRAPPO_POLICY");
    if (env && *env) return env;
    char dirs[2][4096];
    int nd = 0;
    ssize_t n = readlink("/proc/self/exe", dirs[0], sizeof dirs[0] - 1);
    if (n > 0) {
        dirs[0][n] = 0;
        char *slash = strrchr(dirs[0], '/');
        if (slash) { *slash = 0; nd = 1; }
    }
    if (dir_of_object((const void *)optimize_default_policy_path, dirs[nd], sizeof dirs[nd])) nd++;
    /* build/ or bin/ next to policies/ (the repository), an installed share/grappo/, or a copy
       next to the library (the Python package) */
    static const char *const rel[] = {"/../policies/default.bin", "/../share/grappo/default.bin", "/policies/default.bin"};
    for (int d = 0; d < nd; d++)
        for (size_t k = 0; k < sizeof rel / sizeof rel[0]; k++) {
            snprintf(buf, cap, "%.4000s%s", dirs[d], rel[k]);
            if (access(buf, R_OK) == 0) return buf;
        }
    return "policies/default.bin";
}
