/* graphdef_budget.c - the tensor bytes a GraphDef declares, counted on the wire before anything
 * is decoded, so that a tiny file declaring huge splatted constants (a 278-byte GraphDef with
 * four [2^30] floats given by one value each) is refused against the memory budget before a
 * byte of them is materialised. Malformed parts are skipped here: the real parse reports them. */
#include "graphdef.h"

#include "pb_wire.h"

#include <string.h>

/* saturating a + b */
static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* TensorProto: dtype (1), tensor_shape (2: dim (2: size (1))) -> bytes if decoded */
static size_t tensor_bytes(const uint8_t *p, size_t len) {
    PbReader r = pb_reader(p, len);
    PbField f;
    const char *why;
    int dtype = 0;
    uint64_t numel = 1;
    bool sat = false;
    while (pb_next_field(&r, &f, &why) == 1) {
        if (f.number == 1 && f.wire == PB_VARINT) dtype = (int)f.varint;
        if (f.number != 2 || f.wire != PB_LEN) continue;
        PbReader rs = pb_reader(f.data, f.len);
        PbField d;
        while (pb_next_field(&rs, &d, &why) == 1) {
            if (d.number != 2 || d.wire != PB_LEN) continue;
            PbReader rd = pb_reader(d.data, d.len);
            PbField sz;
            while (pb_next_field(&rd, &sz, &why) == 1) {
                if (sz.number != 1 || sz.wire != PB_VARINT) continue;
                int64_t v = (int64_t)sz.varint;
                if (v <= 0) { numel = 0; continue; }
                if (numel && (uint64_t)v > UINT64_MAX / numel) sat = true;
                else numel *= (uint64_t)v;
            }
        }
    }
    size_t es = dtype_is_supported(dtype) ? dtype_size(dtype) : 0;
    if (!es || numel == 0) return 0;
    /* one tensor over the per-tensor limit: the parse refuses it, naming its node */
    if (sat || numel > TENSOR_MAX_BYTES / es) return 0;
    return (size_t)numel * es;
}

/* AttrValue: tensor (8) or list (1: tensor (8)) */
static size_t attr_bytes(const uint8_t *p, size_t len) {
    PbReader r = pb_reader(p, len);
    PbField f;
    const char *why;
    size_t total = 0;
    while (pb_next_field(&r, &f, &why) == 1) {
        if (f.wire != PB_LEN) continue;
        if (f.number == 8) total = add_sat(total, tensor_bytes(f.data, f.len));
        if (f.number == 1) {
            PbReader rl = pb_reader(f.data, f.len);
            PbField l;
            while (pb_next_field(&rl, &l, &why) == 1)
                if (l.number == 8 && l.wire == PB_LEN) total = add_sat(total, tensor_bytes(l.data, l.len));
        }
    }
    return total;
}

size_t graphdef_declared_tensor_bytes(const uint8_t *data, size_t len, char *largest, size_t cap) {
    PbReader r = pb_reader(data, len);
    PbField f;
    const char *why;
    size_t total = 0, most = 0;
    if (largest && cap) largest[0] = 0;
    while (pb_next_field(&r, &f, &why) == 1) {
        if (f.number != 1 || f.wire != PB_LEN) continue; /* node */
        PbReader rn = pb_reader(f.data, f.len);
        PbField a;
        const uint8_t *name = NULL;
        size_t name_len = 0, node = 0;
        while (pb_next_field(&rn, &a, &why) == 1) {
            if (a.number == 1 && a.wire == PB_LEN) { name = a.data; name_len = a.len; }
            if (a.number != 5 || a.wire != PB_LEN) continue; /* attr entry */
            PbReader re = pb_reader(a.data, a.len);
            PbField e;
            while (pb_next_field(&re, &e, &why) == 1)
                if (e.number == 2 && e.wire == PB_LEN) node = add_sat(node, attr_bytes(e.data, e.len));
        }
        total = add_sat(total, node);
        if (node > most && largest && cap) {
            most = node;
            size_t n = name_len < cap - 1 ? name_len : cap - 1;
            for (size_t k = 0; k < n; k++) largest[k] = name[k] ? (char)name[k] : '?';
            largest[n] = 0;
        }
    }
    return total;
}
