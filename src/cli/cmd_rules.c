/* cmd_rules.c - `grappo rules`: the rewrite rules, with family, flags and what each does. */
#include <cjson/cJSON.h>
#include <string.h>

#include "../rewrite/rule.h"
#include "cli.h"

static const char *flag_text(unsigned f, char *buf, size_t cap) {
    snprintf(buf, cap, "%s%s", f & RULE_EXACT ? "exact" : f & RULE_PRECISION ? "precision" : "?", f & RULE_TF ? ", tf" : "");
    return buf;
}

int cmd_rules(int argc, char **argv) {
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grappo rules [--json]\n\nLists the rewrite rules: name, family, whether they are exact or change precision,\n"
                   "whether stock TensorFlow runs their output (tf), and what they match and write.\n");
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--json")) json = true;
        else return cli_usage_error("rules", "unexpected argument '%s'", argv[i]);
    }
    int n;
    const RuleDef *const *rules = rules_all(&n);
    char fb[32];
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", rules[i]->name);
            cJSON_AddStringToObject(o, "family", rules[i]->family);
            cJSON_AddBoolToObject(o, "exact", (rules[i]->flags & RULE_EXACT) != 0);
            cJSON_AddBoolToObject(o, "tf", (rules[i]->flags & RULE_TF) != 0);
            cJSON_AddStringToObject(o, "doc", rules[i]->doc ? rules[i]->doc : "");
            cJSON_AddItemToArray(arr, o);
        }
        char *s = cJSON_Print(arr);
        printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(arr);
        return EXIT_OK;
    }
    for (int i = 0; i < n; i++)
        printf("%-22s %-9s %-14s %s\n", rules[i]->name, rules[i]->family, flag_text(rules[i]->flags, fb, sizeof fb),
               rules[i]->doc ? rules[i]->doc : "");
    return EXIT_OK;
}
