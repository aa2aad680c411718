/* main.c - `grappo COMMAND ...`: dispatches to the commands. */
#include <string.h>

#include "cli.h"
#include "../graph/mem_budget.h"

static void usage(FILE *f) {
    char budget[32];
    fprintf(f,
            "grappo %s - optimize TensorFlow inference graphs\n"
            "\n"
            "usage: grappo COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  zoo NAME -o FILE.pb     write a benchmark model (grappo zoo --list)\n"
            "  inspect FILE.pb         ops, parameters, FLOPs, inputs/outputs, memory\n"
            "  ops FILE.pb             which ops run on which runtime, which cannot run\n"
            "  run FILE.pb             execute (fast or reference runtime), print outputs and timing\n"
            "  optimize IN -o OUT.pb   rewrite (pipelines, greedy, random or the trained policy), measure, write\n"
            "  rules                   the rewrite rules\n"
            "  train --corpus ... -o P train the rewrite policy with PPO (checkpoints, --resume)\n"
            "  cost MODEL ...          check the kernel cost model against whole-plan timing\n"
            "  compare DIR             optimize reports (models x methods x seeds) as one table, Welch t-tests\n"
            "  bench MODEL ...         every method on each model, measured side by side -> report.md/json, SVGs\n"
            "  eval MODEL --eval DIR --labels FILE   top-1/top-5 of a classifier on labelled images or .npy rows\n"
            "  sensitivity MODEL       each int8-quantizable node quantized alone, judged and ranked\n"
            "\n"
            "FILE.pb may also be a SavedModel directory ([--signature NAME] [--tags serve]), a\n"
            "TensorFlow.js model.json, a text GraphDef (.pbtxt), or zoo:NAME; a graph output ending in\n"
            ".pbtxt is written as text. `grappo COMMAND --help` for each command's options.\n"
            "Every command takes --max-memory BYTES (e.g. 4GiB): the most tensor memory (weights, activations,\n"
            "the fast runtime's arena) grappo holds at once; beyond it a model is refused (exit 2). Default:\n"
            "half of this machine's memory, now %s.\n"
            "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.\n",
            GRAPPO_VERSION, mem_bytes_str((double)mem_budget_default(), budget, sizeof budget));
}

int main(int argc, char **argv) {
    if (cli_take_max_memory(&argc, argv)) return EXIT_USAGE;
    if (argc < 2) { usage(stderr); return EXIT_USAGE; }
    if (cli_take_model_opts(&argc, argv)) return EXIT_USAGE;
    if (argc < 2) { usage(stderr); return EXIT_USAGE; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) { usage(stdout); return EXIT_OK; }
    if (!strcmp(cmd, "--version")) { printf("grappo %s\n", GRAPPO_VERSION); return EXIT_OK; }
    if (!strcmp(cmd, "zoo")) return cmd_zoo(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "ops")) return cmd_ops(argc - 1, argv + 1);
    if (!strcmp(cmd, "optimize")) return cmd_optimize(argc - 1, argv + 1);
    if (!strcmp(cmd, "rules")) return cmd_rules(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "cost")) return cmd_cost(argc - 1, argv + 1);
    if (!strcmp(cmd, "compare")) return cmd_compare(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "sensitivity")) return cmd_sensitivity(argc - 1, argv + 1);
    fprintf(stderr, "grappo: unknown command '%s' (grappo --help lists them)\n", cmd);
    return EXIT_USAGE;
}
