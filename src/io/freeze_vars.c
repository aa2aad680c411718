/* freeze_vars.c - for freezing: variables matched to checkpoint keys through the restore ops,
 * variable reads turned into Consts (ResourceGather into GatherV2 on one), and the nodes the
 * signature's outputs need marked live. */
#include "freeze_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor_bundle.h"

/* ---- variables ---- */

/* follows Identity chains back to the producing flat node */
FRef fz_trace(const Fz *z, FRef r) {
    for (int guard = 0; guard < 1000; guard++) {
        const FNode *f = &z->fn[r.node];
        if (strcmp(f->op, "Identity") || f->n_in < 1) break;
        r = f->in[0];
    }
    return r;
}

static int var_value(Fz *z, int var_node, int dtype, Tensor *out) {
    const FNode *v = &z->fn[var_node];
    if (!v->key)
        return err_set(z->err, ERR_INPUT, "variable '%s' has no checkpoint entry", v->name);
    if (!z->s->vars) return err_set(z->err, ERR_INPUT, "variable '%s' but no variables/ checkpoint", v->name);
    if (tensor_bundle_read_slice(z->s->vars, v->key, v->slice, out, z->err)) return -1;
    if (dtype && out->dtype != dtype) {
        tensor_release(out);
        return err_set(z->err, ERR_INPUT, "variable '%s' is read as dtype %d but stored as %d", v->name, dtype, out->dtype);
    }
    return 0;
}

/* Marks the flat nodes the outputs need; turns variable reads into Consts on the way. A node
 * is pushed once, when it turns live; the nodes ResourceGather adds are live (and need nothing)
 * from the start and never pushed, so the stack never holds more than the initial node count. */
int fz_mark_live(Fz *z, const FRef *outs, int n_outs) {
    int *stack = malloc(((size_t)z->n_fn + 1) * sizeof *stack);
    if (!stack) return err_set(z->err, ERR_RUNTIME, "out of memory");
    int sp = 0;
    for (int i = 0; i < n_outs; i++)
        if (!z->fn[outs[i].node].live) {
            z->fn[outs[i].node].live = true;
            stack[sp++] = outs[i].node;
        }
    int rc = 0;
    while (sp && !rc) {
        int k = stack[--sp];
        FNode *f = &z->fn[k];
        const char *op = f->op;
        if (!strcmp(op, "ReadVariableOp") || !strcmp(op, "ResourceGather")) {
            FRef h = f->n_in ? fz_trace(z, f->in[0]) : (FRef){-1, 0};
            if (h.node < 0 || (strcmp(z->fn[h.node].op, "VarHandleOp") && strcmp(z->fn[h.node].op, "VariableV2"))) {
                rc = err_set(z->err, ERR_INPUT, "node '%s': reads a resource that is not a variable", f->name);
                break;
            }
            int dtype = f->src ? fz_attr_type(f->src, "dtype") : 0;
            if (var_value(z, h.node, dtype, &f->value)) {
                rc = err_prefix(z->err, "node '%s'", f->name);
                break;
            }
            if (!strcmp(op, "ResourceGather")) { /* -> GatherV2(Const, indices, axis) */
                f->is_gather = true;
                f->gather_batch_dims = fz_attr_int(f->src, "batch_dims", 0);
                int p = fz_add_flat(z, f->name, "/params", "Const", NULL);
                if (p < 0) { rc = -1; break; }
                f = &z->fn[k]; /* add_flat may move the array */
                z->fn[p].value = f->value;
                f->value = (Tensor){0};
                z->fn[p].live = true;
                int a = fz_add_flat(z, f->name, "/axis", "Const", NULL);
                if (a < 0) { rc = -1; break; }
                f = &z->fn[k];
                int64_t axis = f->gather_batch_dims;
                Shape sc = shape_scalar();
                int32_t ax = (int32_t)axis;
                if (tensor_from_data(&z->fn[a].value, DT_INT32, &sc, &ax, sizeof ax, z->err)) { rc = -1; break; }
                z->fn[a].live = true;
                FRef idx = f->in[1];
                free(f->op);
                if (!(f->op = strdup("GatherV2"))) { rc = err_set(z->err, ERR_RUNTIME, "out of memory"); break; }
                f->in[0] = (FRef){p, 0};
                f->in[1] = idx;
                f->n_in = 2;
                if (fz_add_in(z, k, (FRef){a, 0})) { rc = -1; break; }
                f = &z->fn[k];
            } else {
                free(f->op);
                if (!(f->op = strdup("Const"))) { rc = err_set(z->err, ERR_RUNTIME, "out of memory"); break; }
                f->n_in = 0;
            }
            f->n_ctrl = 0;
        } else if (!strcmp(op, "VariableV2") || !strcmp(op, "Variable")) { /* TF1: the variable is its value */
            if (var_value(z, k, 0, &f->value)) { rc = err_prefix(z->err, "node '%s'", f->name); break; }
            free(f->op);
            if (!(f->op = strdup("Const"))) { rc = err_set(z->err, ERR_RUNTIME, "out of memory"); break; }
            f->n_in = f->n_ctrl = 0;
        } else if (!strcmp(op, "VarHandleOp") || !strcmp(op, "AssignVariableOp") || !strcmp(op, "RestoreV2") ||
                   !strcmp(op, "Assign") || !strcmp(op, "VarIsInitializedOp")) {
            rc = err_set(z->err, ERR_INPUT, "node '%s': the outputs depend on variable state (%s) that freezing cannot resolve",
                         f->name, op);
            break;
        }
        for (int i = 0; i < f->n_in; i++)
            if (!z->fn[f->in[i].node].live) {
                z->fn[f->in[i].node].live = true;
                stack[sp++] = f->in[i].node;
            }
        for (int i = 0; i < f->n_ctrl; i++)
            if (!z->fn[f->ctrl[i]].live) {
                z->fn[f->ctrl[i]].live = true;
                stack[sp++] = f->ctrl[i];
            }
    }
    free(stack);
    return rc;
}

/* TF1 checkpoints: Assign(var, Identity*(RestoreV2:k)) with RestoreV2's tensor_names a Const
 * (and its shape_and_slices, for a partition of a partitioned variable). */
void fz_match_restore_ops(Fz *z) {
    for (int k = 0; k < z->n_fn; k++) {
        const FNode *f = &z->fn[k];
        if ((strcmp(f->op, "Assign") && strcmp(f->op, "AssignVariableOp")) || f->n_in < 2) continue;
        FRef v = fz_trace(z, f->in[0]), val = fz_trace(z, f->in[1]);
        FNode *var = &z->fn[v.node];
        const FNode *r = &z->fn[val.node];
        if (var->key || strcmp(r->op, "RestoreV2") || r->n_in < 2) continue;
        if (strcmp(var->op, "VarHandleOp") && strcmp(var->op, "VariableV2") && strcmp(var->op, "Variable")) continue;
        const FNode *names = &z->fn[fz_trace(z, r->in[1]).node];
        if (strcmp(names->op, "Const") || !names->src) continue;
        Grappo__Tf__AttrValue *a = fz_attr_unpack(names->src, "value");
        if (a && a->value_case == GRAPPO__TF__ATTR_VALUE__VALUE_TENSOR && a->tensor &&
            (size_t)val.port < a->tensor->n_string_val) {
            const ProtobufCBinaryData *key = &a->tensor->string_val[val.port];
            if (key->len && !memchr(key->data, 0, key->len)) var->key = fz_dupn(key->data, key->len);
        }
        if (a) grappo__tf__attr_value__free_unpacked(a, NULL);
        if (var->key && r->n_in >= 3) { /* a partition: which part of the checkpoint entry it holds */
            const FNode *specs = &z->fn[fz_trace(z, r->in[2]).node];
            a = strcmp(specs->op, "Const") || !specs->src ? NULL : fz_attr_unpack(specs->src, "value");
            if (a && a->value_case == GRAPPO__TF__ATTR_VALUE__VALUE_TENSOR && a->tensor &&
                (size_t)val.port < a->tensor->n_string_val) {
                const ProtobufCBinaryData *spec = &a->tensor->string_val[val.port];
                if (spec->len && !memchr(spec->data, 0, spec->len)) var->slice = fz_dupn(spec->data, spec->len);
            }
            if (a) grappo__tf__attr_value__free_unpacked(a, NULL);
        }
    }
}

