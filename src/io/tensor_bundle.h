/* tensor_bundle.h - TensorFlow checkpoints (TensorBundle): PREFIX.index, a table whose empty
 * key holds a BundleHeaderProto and whose other keys hold BundleEntryProtos, and the shards
 * PREFIX.data-NNNNN-of-MMMMM holding the tensors' bytes. Reads one tensor at a time, checking
 * its place against the shard's size and its masked CRC-32C. Little-endian bundles of numeric
 * dtypes only; string tensors are refused by key. A partitioned variable (saved in slices, each
 * under its own key, see ordered_code.h) is assembled from its slices, which must lie inside
 * its shape, not overlap, cover it, and each have its dtype. */
#ifndef GRAPPO_TENSOR_BUNDLE_H
#define GRAPPO_TENSOR_BUNDLE_H

#include <stdbool.h>

#include "../graph/tensor.h"

typedef struct TensorBundle TensorBundle;

/* Opens PREFIX.index (e.g. "dir/variables/variables"). Errors name the index file. */
TensorBundle *tensor_bundle_open(const char *prefix, Err *err);
/* Parses an index already in memory (data must outlive the bundle); shards are looked for next
 * to prefix. For tests and fuzzing. */
TensorBundle *tensor_bundle_parse(const uint8_t *data, size_t len, const char *prefix, Err *err);
void tensor_bundle_close(TensorBundle *b);
bool tensor_bundle_has(const TensorBundle *b, const char *key);
/* Reads the tensor stored under key into *out. ERR_INPUT naming the shard and key for a
 * missing or short shard, a CRC mismatch, a size that does not match dtype and shape. */
int tensor_bundle_read(TensorBundle *b, const char *key, Tensor *out, Err *err);

/* Reads the part `spec` of the tensor under key, spec as RestoreV2's shape_and_slices give it
 * ("4 6 0,4:0,3": the full shape, then start,length or "-" per dimension); the whole tensor
 * when spec is NULL or empty. ERR_INPUT when spec does not fit the tensor's shape. */
int tensor_bundle_read_slice(TensorBundle *b, const char *key, const char *spec, Tensor *out, Err *err);

/* Reads a scalar string tensor (e.g. "_CHECKPOINTABLE_OBJECT_GRAPH") into *data (malloc'd). */
int tensor_bundle_read_string(TensorBundle *b, const char *key, uint8_t **data, size_t *len, Err *err);

#endif
