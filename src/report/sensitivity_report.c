/* sensitivity_report.c - a sensitivity ranking as JSON (see sensitivity_report.h). */
#include "sensitivity_report.h"

static void add_judgement(cJSON *o, const OptimizeJudgement *j) {
    cJSON_AddNumberToObject(o, "accuracy_drop", j->drop);
    if (j->acc.top1_agreement >= 0) cJSON_AddNumberToObject(o, "top1_agreement", j->acc.top1_agreement);
    cJSON_AddNumberToObject(o, "min_cosine", j->acc.min_cosine);
    if (j->has_metric) cJSON_AddNumberToObject(o, "metric", j->metric_after);
    cJSON_AddBoolToObject(o, "within_budget", j->ok);
}

cJSON *sensitivity_to_json(const Sensitivity *x) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "variant", x->variant ? x->variant : "");
    cJSON_AddStringToObject(o, "gain_from", x->cost ? x->cost : "");
    cJSON_AddNumberToObject(o, "fp32_estimate_ms", x->fp32_ms);
    cJSON_AddNumberToObject(o, "quantizable", x->n);
    cJSON_AddNumberToObject(o, "judged", x->judged);
    if (x->searched) {
        cJSON *all = cJSON_AddObjectToObject(o, "all_int8");
        if (all) add_judgement(all, &x->all_int8);
        cJSON_AddNumberToObject(o, "kept_fp32", x->reverted);
    }
    cJSON *arr = cJSON_AddArrayToObject(o, "nodes");
    for (int i = 0; arr && i < x->n; i++) {
        const SensitivityNode *n = &x->nodes[i];
        cJSON *r = cJSON_CreateObject();
        if (!r) break;
        cJSON_AddNumberToObject(r, "rank", i + 1);
        cJSON_AddStringToObject(r, "node", n->name);
        cJSON_AddStringToObject(r, "op", n->op);
        cJSON_AddStringToObject(r, "rule", n->rule);
        cJSON_AddBoolToObject(r, "judged", n->judged);
        if (n->judged) {
            add_judgement(r, &n->judge);
            cJSON_AddNumberToObject(r, "estimated_gain_ms", n->gain_ms);
        }
        if (x->searched) cJSON_AddBoolToObject(r, "kept_fp32", n->kept_fp32);
        cJSON_AddItemToArray(arr, r);
    }
    return o;
}
