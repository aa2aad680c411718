/* nodedef_write.c - NodeDef fields and attributes written into a ByteBuf (see nodedef_write.h). */
#include "nodedef_write.h"

#include <stdlib.h>
#include <string.h>

void nd_put_str_field(ByteBuf *b, uint32_t number, const char *s) { bb_len_field(b, number, s, strlen(s)); }

void nd_put_attr(ByteBuf *node, const char *key, const uint8_t *val, size_t len) {
    ByteBuf e = {0};
    nd_put_str_field(&e, 1, key);
    bb_len_field(&e, 2, val, len);
    bb_len_field(node, 5, e.data, e.len);
    if (e.oom) node->oom = true;
    bb_free(&e);
}

void nd_put_attr_value(ByteBuf *node, const char *key, const Grappo__Tf__AttrValue *v) {
    size_t n = grappo__tf__attr_value__get_packed_size(v);
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        node->oom = true;
        return;
    }
    grappo__tf__attr_value__pack(v, buf);
    nd_put_attr(node, key, buf, n);
    free(buf);
}

void nd_put_type_attr(ByteBuf *node, const char *key, int dtype) {
    Grappo__Tf__AttrValue v = GRAPPO__TF__ATTR_VALUE__INIT;
    v.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_TYPE;
    v.type = dtype;
    nd_put_attr_value(node, key, &v);
}

void nd_put_const_attrs(ByteBuf *node, int dtype, const Shape *shape, const void *data, size_t nbytes) {
    Grappo__Tf__TensorShapeProto sh = GRAPPO__TF__TENSOR_SHAPE_PROTO__INIT;
    Grappo__Tf__TensorShapeProto__Dim dims[MAX_RANK], *dp[MAX_RANK];
    for (int i = 0; i < shape->rank; i++) {
        grappo__tf__tensor_shape_proto__dim__init(&dims[i]);
        dims[i].size = shape->dim[i];
        dp[i] = &dims[i];
    }
    sh.n_dim = (size_t)shape->rank;
    sh.dim = dp;
    Grappo__Tf__TensorProto tp = GRAPPO__TF__TENSOR_PROTO__INIT;
    tp.dtype = dtype;
    tp.tensor_shape = &sh;
    tp.tensor_content = (ProtobufCBinaryData){nbytes, (uint8_t *)data};
    Grappo__Tf__AttrValue v = GRAPPO__TF__ATTR_VALUE__INIT;
    v.value_case = GRAPPO__TF__ATTR_VALUE__VALUE_TENSOR;
    v.tensor = &tp;
    nd_put_attr_value(node, "value", &v);
    nd_put_type_attr(node, "dtype", dtype);
}
