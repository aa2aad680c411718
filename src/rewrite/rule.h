/* rule.h - graph rewrite rules. A rule has a name, a family, flags, and two functions:
 *   find(g, uses, out)  appends every place the rule applies (a Site) to out;
 *   apply(g, site)      rewrites the graph at that one place.
 * rule_apply() wraps apply: it refuses stale sites, removes nodes the rewrite left dead,
 * re-infers shapes and validates. Sites are never cached across rewrites: after any apply,
 * find again (rule_sites). The registry is rules.def (one row per rule). */
#ifndef GRAPPO_RULE_H
#define GRAPPO_RULE_H

#include "../graph/graph.h"

/* flags */
#define RULE_EXACT 0x1u     /* computes the same function up to float rounding */
#define RULE_PRECISION 0x2u /* changes numerics on purpose (quantization): accuracy is measured */
#define RULE_TF 0x4u        /* its output uses only ops stock TensorFlow executes (--target tf) */
#define RULE_BF16 0x8u      /* computes in bfloat16: pays off only on CPUs with bf16 support (without, the
                               fast runtime runs those nodes on reference kernels, many times slower) */

#define SITE_MAX_NODES 12

typedef struct Site {
    uint64_t version;           /* g->version when found */
    int n;                      /* nodes used */
    int nodes[SITE_MAX_NODES];  /* nodes[0] is the anchor; the rest are rule-specific */
    int64_t param;              /* rule-specific (e.g. a precision choice) */
} Site;

typedef struct SiteList {
    int n, cap;
    Site *v;
} SiteList;

int sitelist_push(SiteList *l, const Site *s, Err *err);
void sitelist_free(SiteList *l);

typedef struct RuleDef {
    const char *name;   /* e.g. "fuse_conv_bias_act" */
    const char *family; /* fuse | fold | quantize | layout | simplify */
    unsigned flags;
    const char *doc;    /* one line: what it matches and what it writes */
    int (*find)(const Graph *g, const GraphUses *u, SiteList *out, Err *err);
    int (*apply)(Graph *g, const Site *s, Err *err);
} RuleDef;

/* every rule, in registry order */
const RuleDef *const *rules_all(int *count);
const RuleDef *rule_by_name(const char *name);

/* Fresh sites of r in g (every site carries g->version). out is cleared first. */
int rule_sites(const RuleDef *r, const Graph *g, SiteList *out, Err *err);
/* Applies r at s, then removes dead nodes, re-infers, validates and bumps g->version. On
   failure g may be partially rewritten: callers that need atomicity apply to a clone. */
int rule_apply(const RuleDef *r, Graph *g, const Site *s, Err *err);

#endif
