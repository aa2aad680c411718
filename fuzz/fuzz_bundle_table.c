/* fuzz_bundle_table.c - libFuzzer target for the TensorBundle index reader (bundle_table.c,
 * tensor_bundle.c): any input is rejected with ERR_INPUT or parses into entries whose tensors
 * are then read, whole and as a partition (from shards that do not exist: every read must fail
 * cleanly, partitioned variables' slice lists included). */
#include <stdint.h>
#include <stdlib.h>

#include "io/bundle_table.h"
#include "io/tensor_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    BundleTable t;
    if (bundle_table_parse(data, size, "fuzz.index", &t, &err)) {
        if (err.code != ERR_INPUT && err.code != ERR_RUNTIME) abort();
        return 0;
    }
    bundle_table_free(&t);
    TensorBundle *b = tensor_bundle_parse(data, size, "/nonexistent/grappo-fuzz", &err);
    if (!b) return 0;
    BundleTable keys;
    if (!bundle_table_parse(data, size, "fuzz.index", &keys, &err)) {
        for (int i = 0; i < keys.n && i < 64; i++) {
            Tensor x;
            if (!tensor_bundle_read(b, keys.entries[i].key, &x, &err)) abort(); /* no shard to read from */
            if (!tensor_bundle_read_slice(b, keys.entries[i].key, "4 6 0,4:3,3", &x, &err)) abort();
        }
        bundle_table_free(&keys);
    }
    tensor_bundle_close(b);
    return 0;
}
