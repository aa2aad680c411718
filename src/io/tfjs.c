/* tfjs.c - TensorFlow.js graph-model reader (see tfjs.h). Not written yet: refuses clearly. */
#include "tfjs.h"

Graph *tfjs_load(const char *path, Err *err) {
    err_set(err, ERR_INPUT, "%s: TensorFlow.js graph models are not supported yet", path);
    return NULL;
}
