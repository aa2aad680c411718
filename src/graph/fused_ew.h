/* fused_ew.h - the program of a GrappoFusedElementwise node (docs/ops.md): parsing the
 * `program` attribute into steps, the step names, and the per-step arithmetic in double that
 * defines the op (shared by inference, the reference kernel, the fast kernel and the rule
 * fuse_elementwise_chain). */
#ifndef GRAPPO_FUSED_EW_H
#define GRAPPO_FUSED_EW_H

#include <math.h>
#include <stdbool.h>

#include "act_math.h"
#include "graph.h"

typedef enum FewKind {
    /* unary: acc = f(acc) */
    FEW_RELU, FEW_RELU6, FEW_SIGMOID, FEW_TANH, FEW_NEG, FEW_ABS, FEW_SQUARE, FEW_SQRT, FEW_RSQRT,
    FEW_EXP, FEW_LOG, FEW_ERF,
    /* binary with operand b = x_i: acc = acc op b (RSub: b - acc, RDiv: b / acc) */
    FEW_ADD, FEW_SUB, FEW_RSUB, FEW_MUL, FEW_DIV, FEW_RDIV, FEW_MAX, FEW_MIN,
    FEW_COUNT
} FewKind;

#define FEW_FIRST_BINARY FEW_ADD
#define FEW_MAX_STEPS 1024

typedef struct FewStep {
    FewKind kind;
    int operand; /* input index 1..N for binary steps, 0 for unary */
} FewStep;

/* "Relu", ..., "Add", ... (without the ":i") */
const char *few_kind_name(FewKind k);
static inline bool few_is_binary(FewKind k) { return k >= FEW_FIRST_BINARY; }

/* Parses n's `program` (list(string), 1..FEW_MAX_STEPS steps) into steps[] (cap entries):
   every step known, every operand index in 1..n->n_inputs-1. ERR_INPUT naming the bad step. */
int few_parse_program(const Node *n, FewStep *steps, int cap, int *n_steps, Err *err);

/* the logistic function (act_math.h), named for the fast kernel */
static inline double few_sigmoid(double x) { return act_sigmoid(x); }

/* One step in double, exactly as the reference kernels of the stock ops compute it (the
   caller rounds the result to float32). NaN in gives NaN out, Relu/Relu6/Max/Min included. */
static inline double few_step_d(FewKind k, double a, double b) {
    switch (k) {
    case FEW_RELU: return act_relu(a);
    case FEW_RELU6: return act_relu6(a);
    case FEW_SIGMOID: return act_sigmoid(a);
    case FEW_TANH: return tanh(a);
    case FEW_NEG: return -a;
    case FEW_ABS: return fabs(a);
    case FEW_SQUARE: return a * a;
    case FEW_SQRT: return sqrt(a);
    case FEW_RSQRT: return 1.0 / sqrt(a);
    case FEW_EXP: return exp(a);
    case FEW_LOG: return log(a);
    case FEW_ERF: return erf(a);
    case FEW_ADD: return a + b;
    case FEW_SUB: return a - b;
    case FEW_RSUB: return b - a;
    case FEW_MUL: return a * b;
    case FEW_DIV: return a / b;
    case FEW_RDIV: return b / a;
    case FEW_MAX: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    case FEW_MIN: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    default: return NAN;
    }
}

#endif
