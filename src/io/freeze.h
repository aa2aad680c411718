/* freeze.h - a SavedModel's graph + function library + checkpoint -> one frozen Graph.
 *
 * Function calls (StatefulPartitionedCall, PartitionedCall, and nodes whose op is a library
 * function) are inlined recursively, each body's nodes renamed "<call node>/<body node>";
 * FunctionDef references "node:out_arg:idx" become ports through the op's output arguments.
 * Variables are matched to checkpoint keys through the restore ops (RestoreV2 -> Identity ->
 * AssignVariableOp / Assign), ReadVariableOp and TF1 variables become Const, ResourceGather
 * becomes GatherV2 on a Const. What only served saving and restoring is dropped (everything the
 * signature's outputs do not need), and so are control dependencies on variables, reads,
 * assignments, NoOps and calls (after freezing there is no state left for them to order).
 * The signature's inputs become Placeholders named by their keys and every output an Identity
 * named by its key. */
#ifndef GRAPPO_FREEZE_H
#define GRAPPO_FREEZE_H

#include <stddef.h>
#include <stdint.h>

#include "../graph/graph.h"
#include "saved_model.pb-c.h"
#include "tensor_bundle.h"

typedef struct FreezeTensor {
    const char *key;    /* signature key: the name the node takes */
    const char *tensor; /* "node:port" in the MetaGraph's graph */
    int dtype;          /* from the signature (DT_INVALID if not given) */
} FreezeTensor;

typedef struct FreezeSpec {
    const uint8_t *graph_def; /* serialized GraphDef with its function library */
    size_t graph_def_len;
    TensorBundle *vars; /* NULL when the model has no variables */
    /* TF2: the SavedObjectGraph (which object each call's captured inputs are) and, by
       object id, the checkpoint key of its value (NULL where none); variables not matched
       this way are matched through the restore ops (TF1) */
    const Grappo__Tf__SavedObjectGraph *objects;
    char *const *object_keys;
    int n_object_keys;
    const FreezeTensor *inputs, *outputs;
    int n_inputs, n_outputs;
    const char *what; /* file name for messages */
} FreezeSpec;

Graph *freeze_graph(const FreezeSpec *spec, Err *err);

/* Function `fname` of a GraphDef's library as its own frozen Graph (graph_func.h): one
 * Placeholder per argument named FUNC_ARG_FMT, the results as the graph outputs (Identities named
 * FUNC_RET_FMT), calls inside it inlined as above. lib_field is the GraphDef's whole library
 * field (tag included), kept in the result when the body holds control flow itself; lib is the
 * same library unpacked. */
Graph *freeze_function(const uint8_t *lib_field, size_t lib_field_len, const Grappo__Tf__FunctionDefLibrary *lib,
                       const char *fname, Err *err);

/* deepest function call nesting accepted */
#define FREEZE_MAX_DEPTH 64
/* longest chain of calls whose inputs are other calls' outputs (bounds the recursion) */
#define FREEZE_MAX_ACTIVE 512
/* most nodes the inlined graph may have (a call tree can multiply a small file's nodes) */
#define FREEZE_MAX_NODES (1 << 19)

#endif
