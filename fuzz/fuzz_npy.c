/* fuzz_npy.c - libFuzzer target for the .npy reader and writer: any input is rejected with
 * ERR_INPUT or gives a tensor that serializes and parses back to the same dtype, shape and
 * bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    Tensor t, u;
    if (npy_parse(data, size, "fuzz.npy", &t, &err)) {
        if (err.code != ERR_INPUT) abort();
        return 0;
    }
    uint8_t *s;
    size_t l;
    if (npy_serialize(&t, &s, &l, &err)) abort();
    if (npy_parse(s, l, "fuzz-reparse.npy", &u, &err)) abort();
    if (u.dtype != t.dtype || !shape_equal(&u.shape, &t.shape) || tensor_nbytes(&u) != tensor_nbytes(&t)) abort();
    if (tensor_nbytes(&t) && memcmp(tensor_data(&u), tensor_data(&t), tensor_nbytes(&t))) abort();
    free(s);
    tensor_release(&u);
    tensor_release(&t);
    return 0;
}
