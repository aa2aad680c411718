/* api_internal.h - what the files of the public C API share: the model handle and setting the
 * calling thread's error message. Never included by users (they see include/grappo.h only). */
#ifndef GRAPPO_API_INTERNAL_H
#define GRAPPO_API_INTERNAL_H

#include "grappo.h"

#include "../graph/graph.h"
#include "../runtime/plan.h"

struct grappo_model {
    Graph *g;
    bool borrowed;           /* a candidate handed to an eval callback: the graph is not ours */
    grappo_tensor *inputs, *outputs; /* the interface, made on first request */
    int n_inputs, n_outputs;
    Plan *plan;              /* compiled on the first run */
};

/* records err as the thread's message; returns the GRAPPO_ code for it */
int api_fail(const Err *err);
/* a message of our own: returns code */
int api_failf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* the call succeeded: the message becomes "" */
int api_ok(void);

/* a model handle over g (taken, or borrowed when borrowed is true); NULL when out of memory */
grappo_model *api_model_wrap(Graph *g, bool borrowed);

#endif
