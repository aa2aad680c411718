/* pbtxt_schema.c - the GraphDef schema tables (see pbtxt_schema.h). */
#include "pbtxt_schema.h"

#include <stddef.h>

#define F(n, num, k) {n, num, k, false, NULL, 0}
#define R(n, num, k) {n, num, k, true, NULL, 0}
#define FM(n, num, m) {n, num, K_MSG, false, &m, 0}
#define RM(n, num, m) {n, num, K_MSG, true, &m, 0}
#define END {NULL, 0, 0, false, NULL, 0}

static const Msg M_SHAPE, M_TENSOR, M_ATTR_VALUE, M_NODE, M_FULLTYPE, M_ATTR_ENTRY, M_DTYPE_SHAPE;

static const Field dim_fields[] = {F("size", 1, K_INT64), F("name", 2, K_STRING), END};
static const Msg M_DIM = {"TensorShapeProto.Dim", dim_fields, false};
static const Field shape_fields[] = {RM("dim", 2, M_DIM), F("unknown_rank", 3, K_BOOL), END};
static const Msg M_SHAPE = {"TensorShapeProto", shape_fields, false};

static const Field dtype_shape_fields[] = {F("dtype", 1, K_DTYPE), FM("shape", 2, M_SHAPE), END};
static const Msg M_DTYPE_SHAPE = {"DtypeAndShape", dtype_shape_fields, false};
static const Field handle_fields[] = {F("device", 1, K_STRING), F("container", 2, K_STRING), F("name", 3, K_STRING),
                                      F("hash_code", 4, K_UINT64), F("maybe_type_name", 5, K_STRING),
                                      RM("dtypes_and_shapes", 6, M_DTYPE_SHAPE), END};
static const Msg M_HANDLE = {"ResourceHandleProto", handle_fields, false};
static const Field variant_fields[] = {F("type_name", 1, K_STRING), F("metadata", 2, K_STRING),
                                       RM("tensors", 3, M_TENSOR), END};
static const Msg M_VARIANT = {"VariantTensorDataProto", variant_fields, false};

static const Field tensor_fields[] = {
    F("dtype", 1, K_DTYPE),          FM("tensor_shape", 2, M_SHAPE),   F("version_number", 3, K_INT32),
    F("tensor_content", 4, K_STRING), R("float_val", 5, K_FLOAT),      R("double_val", 6, K_DOUBLE),
    R("int_val", 7, K_INT32),        R("string_val", 8, K_STRING),     R("scomplex_val", 9, K_FLOAT),
    R("int64_val", 10, K_INT64),     R("bool_val", 11, K_BOOL),        R("dcomplex_val", 12, K_DOUBLE),
    R("half_val", 13, K_INT32),      RM("resource_handle_val", 14, M_HANDLE), RM("variant_val", 15, M_VARIANT),
    R("uint32_val", 16, K_UINT32),   R("uint64_val", 17, K_UINT64),    F("float8_val", 18, K_STRING),
    END};
static const Msg M_TENSOR = {"TensorProto", tensor_fields, false};

static const Field name_attrs_fields[] = {F("name", 1, K_STRING), RM("attr", 2, M_ATTR_ENTRY), END};
static const Msg M_NAME_ATTRS = {"NameAttrList", name_attrs_fields, false};

static const Field list_fields[] = {R("s", 2, K_STRING),         R("i", 3, K_INT64),        R("f", 4, K_FLOAT),
                                    R("b", 5, K_BOOL),           R("type", 6, K_DTYPE),     RM("shape", 7, M_SHAPE),
                                    RM("tensor", 8, M_TENSOR),   RM("func", 9, M_NAME_ATTRS), END};
static const Msg M_LIST = {"AttrValue.ListValue", list_fields, false};

#define O1(n, num, k) {n, num, k, false, NULL, 1}
#define OM1(n, num, m) {n, num, K_MSG, false, &m, 1}
static const Field attr_value_fields[] = {OM1("list", 1, M_LIST),     O1("s", 2, K_STRING),     O1("i", 3, K_INT64),
                                          O1("f", 4, K_FLOAT),        O1("b", 5, K_BOOL),       O1("type", 6, K_DTYPE),
                                          OM1("shape", 7, M_SHAPE),   OM1("tensor", 8, M_TENSOR),
                                          O1("placeholder", 9, K_STRING), OM1("func", 10, M_NAME_ATTRS), END};
static const Msg M_ATTR_VALUE = {"AttrValue", attr_value_fields, false};
/* map<string, AttrValue> entry */
static const Field attr_entry_fields[] = {F("key", 1, K_STRING), FM("value", 2, M_ATTR_VALUE), END};
static const Msg M_ATTR_ENTRY = {"AttrValue map entry", attr_entry_fields, true};

static const Field fulltype_fields[] = {F("type_id", 1, K_FULLTYPE), RM("args", 2, M_FULLTYPE),
                                        {"s", 3, K_STRING, false, NULL, 1}, {"i", 4, K_INT64, false, NULL, 1}, END};
static const Msg M_FULLTYPE = {"FullTypeDef", fulltype_fields, false};
static const Field debug_info_fields[] = {R("original_node_names", 1, K_STRING), R("original_func_names", 2, K_STRING),
                                          END};
static const Msg M_DEBUG_INFO = {"NodeDef.ExperimentalDebugInfo", debug_info_fields, false};

static const Field node_fields[] = {F("name", 1, K_STRING),  F("op", 2, K_STRING),        R("input", 3, K_STRING),
                                    F("device", 4, K_STRING), RM("attr", 5, M_ATTR_ENTRY),
                                    FM("experimental_debug_info", 6, M_DEBUG_INFO),
                                    FM("experimental_type", 7, M_FULLTYPE), END};
static const Msg M_NODE = {"NodeDef", node_fields, false};

/* the function library */
static const Field arg_fields[] = {F("name", 1, K_STRING),           F("description", 2, K_STRING),
                                   F("type", 3, K_DTYPE),            F("type_attr", 4, K_STRING),
                                   F("number_attr", 5, K_STRING),    F("type_list_attr", 6, K_STRING),
                                   RM("handle_data", 7, M_DTYPE_SHAPE), F("is_ref", 16, K_BOOL),
                                   FM("experimental_full_type", 17, M_FULLTYPE), END};
static const Msg M_ARG = {"OpDef.ArgDef", arg_fields, false};
static const Field attr_def_fields[] = {F("name", 1, K_STRING),          F("type", 2, K_STRING),
                                        FM("default_value", 3, M_ATTR_VALUE), F("description", 4, K_STRING),
                                        F("has_minimum", 5, K_BOOL),     F("minimum", 6, K_INT64),
                                        FM("allowed_values", 7, M_ATTR_VALUE), END};
static const Msg M_ATTR_DEF = {"OpDef.AttrDef", attr_def_fields, false};
static const Field deprecation_fields[] = {F("version", 1, K_INT32), F("explanation", 2, K_STRING), END};
static const Msg M_DEPRECATION = {"OpDeprecation", deprecation_fields, false};
static const Field op_def_fields[] = {F("name", 1, K_STRING),         RM("input_arg", 2, M_ARG),
                                      RM("output_arg", 3, M_ARG),     R("control_output", 20, K_STRING),
                                      RM("attr", 4, M_ATTR_DEF),      FM("deprecation", 8, M_DEPRECATION),
                                      F("summary", 5, K_STRING),      F("description", 6, K_STRING),
                                      F("is_commutative", 18, K_BOOL), F("is_aggregate", 16, K_BOOL),
                                      F("is_stateful", 17, K_BOOL),   F("allows_uninitialized_input", 19, K_BOOL),
                                      F("is_distributed_communication", 21, K_BOOL), END};
static const Msg M_OP_DEF = {"OpDef", op_def_fields, false};
static const Field arg_attrs_fields[] = {RM("attr", 1, M_ATTR_ENTRY), END};
static const Msg M_ARG_ATTRS = {"FunctionDef.ArgAttrs", arg_attrs_fields, false};
static const Field arg_attr_entry_fields[] = {F("key", 1, K_UINT32), FM("value", 2, M_ARG_ATTRS), END};
static const Msg M_ARG_ATTR_ENTRY = {"FunctionDef.arg_attr entry", arg_attr_entry_fields, true};
static const Field u32_entry_fields[] = {F("key", 1, K_UINT32), F("value", 2, K_UINT32), END};
static const Msg M_U32_ENTRY = {"FunctionDef.resource_arg_unique_id entry", u32_entry_fields, true};
static const Field str_entry_fields[] = {F("key", 1, K_STRING), F("value", 2, K_STRING), END};
static const Msg M_STR_ENTRY = {"map<string, string> entry", str_entry_fields, true};
static const Field function_fields[] = {FM("signature", 1, M_OP_DEF),   RM("attr", 5, M_ATTR_ENTRY),
                                        RM("arg_attr", 7, M_ARG_ATTR_ENTRY), RM("resource_arg_unique_id", 8, M_U32_ENTRY),
                                        RM("node_def", 3, M_NODE),       RM("ret", 4, M_STR_ENTRY),
                                        RM("control_ret", 6, M_STR_ENTRY), END};
static const Msg M_FUNCTION = {"FunctionDef", function_fields, false};
static const Field gradient_fields[] = {F("function_name", 1, K_STRING), F("gradient_func", 2, K_STRING), END};
static const Msg M_GRADIENT = {"GradientDef", gradient_fields, false};
static const Field reg_gradient_fields[] = {F("gradient_func", 1, K_STRING), F("registered_op_type", 2, K_STRING), END};
static const Msg M_REG_GRADIENT = {"RegisteredGradient", reg_gradient_fields, false};
static const Field library_fields[] = {RM("function", 1, M_FUNCTION), RM("gradient", 2, M_GRADIENT),
                                       RM("registered_gradients", 3, M_REG_GRADIENT), END};
static const Msg M_LIBRARY = {"FunctionDefLibrary", library_fields, false};

static const Field versions_fields[] = {F("producer", 1, K_INT32), F("min_consumer", 2, K_INT32),
                                        R("bad_consumers", 3, K_INT32), END};
static const Msg M_VERSIONS = {"VersionDef", versions_fields, false};
static const Field graph_fields[] = {RM("node", 1, M_NODE), FM("library", 2, M_LIBRARY), F("version", 3, K_INT32),
                                     FM("versions", 4, M_VERSIONS), END};
const Msg PBTXT_GRAPHDEF = {"GraphDef", graph_fields, false};

/* TensorFlow's DataType and FullTypeId values (types.proto, full_type.proto) */
const EnumName PBTXT_DTYPE_NAMES[] = {
    {"DT_INVALID", 0}, {"DT_FLOAT", 1}, {"DT_DOUBLE", 2}, {"DT_INT32", 3}, {"DT_UINT8", 4}, {"DT_INT16", 5},
    {"DT_INT8", 6}, {"DT_STRING", 7}, {"DT_COMPLEX64", 8}, {"DT_INT64", 9}, {"DT_BOOL", 10}, {"DT_QINT8", 11},
    {"DT_QUINT8", 12}, {"DT_QINT32", 13}, {"DT_BFLOAT16", 14}, {"DT_QINT16", 15}, {"DT_QUINT16", 16},
    {"DT_UINT16", 17}, {"DT_COMPLEX128", 18}, {"DT_HALF", 19}, {"DT_RESOURCE", 20}, {"DT_VARIANT", 21},
    {"DT_UINT32", 22}, {"DT_UINT64", 23}, {"DT_FLOAT8_E5M2", 24}, {"DT_FLOAT8_E4M3FN", 25},
    {"DT_FLOAT8_E4M3FNUZ", 26}, {"DT_FLOAT8_E4M3B11FNUZ", 27}, {"DT_FLOAT8_E5M2FNUZ", 28}, {"DT_INT4", 29},
    {"DT_UINT4", 30}, {"DT_INT2", 31}, {"DT_UINT2", 32}, {NULL, 0}};
const EnumName PBTXT_FULLTYPE_NAMES[] = {
    {"TFT_UNSET", 0}, {"TFT_VAR", 1}, {"TFT_ANY", 2}, {"TFT_PRODUCT", 3}, {"TFT_NAMED", 4}, {"TFT_FOR_EACH", 20},
    {"TFT_CALLABLE", 100}, {"TFT_TENSOR", 1000}, {"TFT_ARRAY", 1001}, {"TFT_OPTIONAL", 1002},
    {"TFT_LITERAL", 1003}, {"TFT_ENCODED", 1004}, {"TFT_SHAPE_TENSOR", 1005}, {"TFT_BOOL", 200},
    {"TFT_UINT8", 201}, {"TFT_UINT16", 202}, {"TFT_UINT32", 203}, {"TFT_UINT64", 204}, {"TFT_INT8", 205},
    {"TFT_INT16", 206}, {"TFT_INT32", 207}, {"TFT_INT64", 208}, {"TFT_HALF", 209}, {"TFT_FLOAT", 210},
    {"TFT_DOUBLE", 211}, {"TFT_BFLOAT16", 215}, {"TFT_COMPLEX64", 212}, {"TFT_COMPLEX128", 213},
    {"TFT_STRING", 214}, {"TFT_DATASET", 10102}, {"TFT_RAGGED", 10103}, {"TFT_ITERATOR", 10104},
    {"TFT_MUTEX_LOCK", 10202}, {"TFT_LEGACY_VARIANT", 10203}, {NULL, 0}};
