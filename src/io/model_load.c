/* model_load.c - picks the reader by what the path is (see model_load.h). */
#include "model_load.h"

#include <string.h>
#include <sys/stat.h>

#include "graphdef.h"
#include "pbtxt.h"
#include "tfjs.h"

Graph *model_file_load(const char *path, const ModelLoadOpts *opts, Err *err) {
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) return savedmodel_load(path, opts ? &opts->saved_model : NULL, err);
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".json")) return tfjs_load(path, err);
    if (pbtxt_is_text_path(path)) return pbtxt_load(path, err);
    return graphdef_load(path, err);
}
