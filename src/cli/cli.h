/* cli.h - what the command implementations share: argument scanning, model loading,
 * number formatting. Only cli/ prints and only cli/ exits. */
#ifndef GRAPPO_CLI_H
#define GRAPPO_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "grappo.h" /* GRAPPO_VERSION */

#include "../graph/graph.h"
#include "../graph/input_gen.h"
#include "../io/graphdef.h"
#include "../io/npy.h"
#include "../runtime/plan.h"
#include "../runtime/ref.h"
#include "../util/err.h"
#include "../util/rng.h"
#include "../zoo/zoo.h"
#include "../optimize/model_load.h"
#include "../optimize/optimize.h"

/* exit codes */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_UNCHANGED 3 /* optimize --fail-if-unchanged: the input graph was returned */

/* A simple argument cursor: options may be given as "--name value" or "--name=value". */
typedef struct Args {
    int argc;
    char **argv;
    int i;
    const char *cmd; /* for messages */
} Args;

/* true if argv[i] is option `name`; then *value (if value != NULL) receives its argument,
   advancing the cursor. Sets *bad on a missing value. */
bool arg_opt(Args *a, const char *name, const char **value, bool *bad);
bool arg_flag(Args *a, const char *name);
/* parse helpers print "grappo CMD: ..." on failure and return false */
bool parse_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
bool parse_shape(const char *s, Shape *out); /* "1,224,224,3" */

/* "2000000000", "2GB", "1.5GiB" (KB MB GB TB = 1000^k, KiB MiB GiB TiB = 1024^k) -> bytes */
bool parse_byte_size(const char *s, size_t *out);
/* "90", "90s", "10m", "1.5h" -> seconds (> 0, below 1e9) */
bool parse_duration(const char *s, double *seconds);
/* --max-accuracy-drop: "0.01" or "1%" -> 0.01, a fraction in [0, 1) (1 or more would switch
   the check off) */
bool parse_accuracy_drop(const char *s, double *drop);
#define ACCURACY_DROP_USAGE "--max-accuracy-drop wants a fraction in [0, 1) or a percentage, e.g. 0.01 or 1%%"

/* Ctrl-C during a search: cli_interrupt_install makes the first SIGINT set a flag (the search
   stops and its best graph so far is kept) and restores the default action, so a second one
   ends the process as usual; cli_interrupt_remove restores the previous action. */
void cli_interrupt_install(void);
void cli_interrupt_remove(void);
bool cli_interrupted(void);

/* the per-node sensitivity table (optimize/sensitivity.h), at most max_rows rows (0: all) */
struct Sensitivity;
void cli_print_sensitivity(const struct Sensitivity *x, int max_rows);

/* Removes every "--max-memory BYTES" / "--max-memory=BYTES" from argv (any command) and sets
   the process's memory budget (graph/mem_budget.h); -1 after printing on a bad value. */
int cli_take_max_memory(int *argc, char **argv);

/* "NAME=1,224,224,3" -> spec (name allocated; the caller frees it) */
bool parse_input_shape(const char *cmd, const char *arg, InputSpec *spec);
/* validate + infer with the reference evaluator folding small constants */
int cli_prepare(Graph *g, const InputSpec *specs, int n_specs, Err *err);

/* prints "grappo: <msg>" to stderr and returns the exit code for err */
int cli_fail(const Err *err);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Loads a model (model_load: SavedModel directory, model.json or frozen .pb) or builds
   "zoo:NAME". Not yet inferred. */
Graph *cli_load_model(const char *spec, Err *err);
/* Removes --signature NAME and --tags T1,T2 (SavedModel options, valid with every command)
   from argv, remembering them for cli_load_model. -1 (after printing) on a missing value. */
int cli_take_model_opts(int *argc, char **argv);

/* where the shipped policy is: $GRAPPO_POLICY, else <binary dir>/../policies/default.bin when
   it exists, else policies/default.bin (relative to the working directory) */
const char *cli_default_policy_path(char *buf, size_t cap);

/* monotonic clock in milliseconds */
double cli_now_ms(void);

/* "1.23 M" style formatting into buf */
const char *fmt_count(double v, char *buf, size_t cap);
const char *fmt_bytes(double v, char *buf, size_t cap);

struct Plan;
/* per-op-type and per-node time table; plan may be NULL (reference runtime) */
/* threads: the fast runtime's (0 = all cores); median_ms: the run's median, for the memory floor line */
void cli_print_profile(const Graph *g, const struct Plan *plan, const double *node_ms_sum, int runs, int threads, double median_ms);

/* --calibration, --eval, --labels, --resize, --mean, --std, --layout (src/cli/data_opts.c):
   true when argv[a->i] is one of them (into o; *bad set after printing on a bad value) */
bool cli_data_opt(Args *a, OptimizeOpts *o, bool *bad);
const char *cli_data_opts_help(void);

int cmd_zoo(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_optimize(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sensitivity(int argc, char **argv);

/* The learning curve SVG drawn from a `grappo train --log` CSV (its rows up to max_iter):
   cmd_train.c, also used by `grappo bench --render` */
int train_curve_write(const char *csv, const char *svg, int max_iter, Err *err);

#endif
