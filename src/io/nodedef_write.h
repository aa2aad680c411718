/* nodedef_write.h - writing NodeDef fields and attributes into a ByteBuf, for the readers that
 * re-encode another format as a GraphDef (SavedModel freezing, TensorFlow.js model.json): the
 * attribute map entry (field 5: key, AttrValue), type attributes, and a Const's value + dtype. */
#ifndef GRAPPO_NODEDEF_WRITE_H
#define GRAPPO_NODEDEF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "../graph/tensor.h"
#include "graphdef.pb-c.h"
#include "pb_wire.h"

/* a string field `number` (NodeDef: 1 name, 2 op, 3 input) */
void nd_put_str_field(ByteBuf *b, uint32_t number, const char *s);
/* one attribute, its AttrValue already serialized */
void nd_put_attr(ByteBuf *node, const char *key, const uint8_t *val, size_t len);
/* one attribute from an AttrValue message */
void nd_put_attr_value(ByteBuf *node, const char *key, const Grappo__Tf__AttrValue *v);
/* attribute key = type dtype */
void nd_put_type_attr(ByteBuf *node, const char *key, int dtype);
/* a Const's attributes: value (a TensorProto of dtype and shape holding nbytes of data as
   tensor_content) and dtype. Out of memory sets node->oom. */
void nd_put_const_attrs(ByteBuf *node, int dtype, const Shape *shape, const void *data, size_t nbytes);

#endif
