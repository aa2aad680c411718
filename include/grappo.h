/*
** grappo.h - the public C interface of grappo, an optimizer for TensorFlow inference graphs.
**
** Load a model, run it, optimize it (the same optimization as `grappo optimize`: method
** dispatch, calibration, measurement of input and result side by side, the keep-or-refuse
** verdict), read the measured report as JSON, save the result. Link with libgrappo.so (or
** libgrappo.a): `cc use.c $(pkg-config --cflags --libs grappo)`.
**
** Conventions, as in sqlite3.h:
**   - every exported name starts with grappo_ (macros with GRAPPO_);
**   - objects are opaque handles, each created by one function and destroyed by its paired
**     free function (passing NULL to a free function is a harmless no-op);
**   - functions that can fail return an int: GRAPPO_OK (0) on success, another GRAPPO_ code
**     otherwise, and then grappo_errmsg() describes the failure in one line. The message is the
**     calling thread's own and stays valid until that thread's next grappo_ call.
**   - the library never prints; progress reaches the caller through a callback.
** A handle may be used by one thread at a time; different handles may be used concurrently.
*/
#ifndef GRAPPO_H
#define GRAPPO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GRAPPO_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define GRAPPO_API __attribute__((visibility("default")))
#else
#define GRAPPO_API
#endif
#endif

/*
** Version. GRAPPO_VERSION is the version of the header; grappo_libversion() that of the
** library linked (they differ when a program built against one header runs with another
** library). GRAPPO_VERSION_NUMBER is major*1000000 + minor*1000 + patch.
*/
#define GRAPPO_VERSION "0.1.0"
#define GRAPPO_VERSION_NUMBER 1000
GRAPPO_API const char *grappo_libversion(void);
GRAPPO_API int grappo_libversion_number(void);

/* Result codes. */
#define GRAPPO_OK 0        /* success */
#define GRAPPO_ERROR 1     /* a failure while working: out of memory, a kernel that failed */
#define GRAPPO_INPUT 2     /* bad input or usage: a malformed model, a wrong path, a bad option */
#define GRAPPO_CANCELLED 3 /* a progress callback asked to stop */

/* The calling thread's last error message ("" when the last call succeeded). */
GRAPPO_API const char *grappo_errmsg(void);

/* Frees memory grappo allocated for the caller (JSON texts, output tensor data). */
GRAPPO_API void grappo_free(void *p);

/* Element types: TensorFlow's DataType numbers. */
#define GRAPPO_FLOAT32 1
#define GRAPPO_INT32 3
#define GRAPPO_UINT8 4
#define GRAPPO_INT8 6
#define GRAPPO_INT64 9
#define GRAPPO_BOOL 10
#define GRAPPO_BFLOAT16 14
#define GRAPPO_FLOAT16 19

#define GRAPPO_MAX_RANK 8

/*
** A tensor crossing the API: a name ("x" or "x:0"), an element type, a shape and a dense
** row-major (C order) buffer. For inputs the caller owns data; grappo reads it in place,
** without copying. For outputs grappo fills every field: data is allocated by grappo (free it
** with grappo_free) and name points into the model (valid while the model lives).
** In grappo_model_inputs/outputs, shape[k] is -1 where a dimension is not fixed.
*/
typedef struct grappo_tensor {
    const char *name;
    int dtype;
    int rank;
    int64_t shape[GRAPPO_MAX_RANK];
    void *data;
    size_t nbytes;
} grappo_tensor;

/* A loaded model: a graph with named inputs (placeholders) and outputs. */
typedef struct grappo_model grappo_model;

/*
** Loads a model: a frozen GraphDef (.pb), or "zoo:NAME[@key=value...]" for a built-in
** benchmark model (e.g. zoo:resnet8); other formats as their readers exist. Validates it and
** infers every shape. On success *out is a new model to free with grappo_model_free.
*/
GRAPPO_API int grappo_model_load(const char *path, grappo_model **out);
GRAPPO_API void grappo_model_free(grappo_model *m);

/* Writes the model as a frozen GraphDef, atomically (a failure leaves no file behind). */
GRAPPO_API int grappo_model_save(const grappo_model *m, const char *path);

/*
** The model's interface. *n receives the count; *info points to an array owned by the model
** (valid while it lives) whose entries have name, dtype, rank and shape set, data NULL.
*/
GRAPPO_API int grappo_model_inputs(const grappo_model *m, const grappo_tensor **info, int *n);
GRAPPO_API int grappo_model_outputs(const grappo_model *m, const grappo_tensor **info, int *n);

/*
** Runs the model on the fast runtime. inputs[0..n_inputs) feed placeholders by name (every
** placeholder needs one). outputs receives every graph output, in grappo_model_outputs order:
** an array of n_outputs entries that must equal the model's output count. Free each output's
** data with grappo_free (grappo_tensors_free does it for an array).
*/
GRAPPO_API int grappo_model_run(grappo_model *m, const grappo_tensor *inputs, int n_inputs, grappo_tensor *outputs, int n_outputs);
GRAPPO_API void grappo_tensors_free(grappo_tensor *t, int n);

/* Options of one optimization; defaults are those of `grappo optimize`. */
typedef struct grappo_options grappo_options;

GRAPPO_API int grappo_options_new(grappo_options **out);
GRAPPO_API void grappo_options_free(grappo_options *o);

/*
** Sets an option by name, the value as text:
**   search             grappler (default), grappler+int8, greedy, random, ppo, ppo+bo,
**                      rules:R1,R2,...
**   target             grappo (default: grappo's own ops allowed) or tf (stock TensorFlow ops)
**   max_accuracy_drop  a number in [0, 1] (default 0.01): top-1 agreement >= 1 - drop with
**                      fidelity; with an evaluation function, score >= input's score - drop
**   budget, seed, threads, repeats, eval_batches, trials, episodes    integers
**   calibration        a directory of images (*.png, *.jpg, *.jpeg) or <input>_<k>.npy batches
**   eval               the same: the evaluation inputs instead of generated ones
**   labels             one integer class per line for the eval rows: the accuracy budget is
**                      then judged on top-1 against them (result >= input - max_accuracy_drop)
**   resize, mean, std, layout   image preprocessing: "H,W" (bilinear as tf.image.resize),
**                      "a,b,c" each (x = (pixel / 255 - mean) / std), "nhwc" or "nchw"
**   policy             the policy file of ppo and ppo+bo
**   objective          latency (default) or memory (ppo+bo)
**   memory_budget      bytes; latency_budget  milliseconds (ppo+bo)
**   exact_only         1: no precision rules
**   time_budget        seconds: searches stop spending graph evaluations after it (their best
**                      graph so far is the candidate; 0: none)
**   allow_unmeasured   1: a model holding ops grappo cannot execute still gets the exact
**                      grappler rewrites (none touching those nodes), returned unmeasured (the
**                      result's JSON says "measured": false) instead of failing
** GRAPPO_INPUT names the option when the key is unknown or the value malformed.
*/
GRAPPO_API int grappo_options_set(grappo_options *o, const char *key, const char *value);

/*
** Adds one calibration batch: a tensor for every input, copied. Batches added this way are
** used instead of generated ones (or a calibration directory).
*/
GRAPPO_API int grappo_options_add_calibration(grappo_options *o, const grappo_tensor *inputs, int n_inputs);

/*
** The user's own accuracy metric on their own labelled data: called with the input model and
** with the optimized candidate (a model valid during the call only: run it, do not free it);
** it stores a score (higher is better) and returns 0, or returns non-zero to fail the
** optimization. When set, the accuracy budget is judged on this score instead of fidelity.
*/
typedef int (*grappo_eval_fn)(grappo_model *candidate, void *user, double *score);
GRAPPO_API int grappo_options_set_eval_fn(grappo_options *o, grappo_eval_fn fn, void *user);

/*
** Progress: called at each step of a long optimization with what is being done and, when
** known, done of total. Returning non-zero stops the optimization (GRAPPO_CANCELLED);
** during a search (what = "search") it stops the search instead: its best graph so far is
** measured and returned, the report says so, and the callback is not called again.
*/
typedef int (*grappo_progress_fn)(const char *what, int done, int total, void *user);
GRAPPO_API int grappo_options_set_progress(grappo_options *o, grappo_progress_fn fn, void *user);

/* The outcome of an optimization. */
typedef struct grappo_result grappo_result;

/*
** Optimizes a model (opts NULL: the defaults). The model is not changed. On success *out is a
** new result to free with grappo_result_free, also when the optimized graph was not kept
** (slower, or outside the accuracy budget: grappo_result_kept says which).
*/
GRAPPO_API int grappo_optimize(const grappo_model *m, const grappo_options *opts, grappo_result **out);
GRAPPO_API void grappo_result_free(grappo_result *r);

/* 1 when the optimized graph is the result, 0 when the input is returned unchanged. */
GRAPPO_API int grappo_result_kept(const grappo_result *r);

/* The resulting model (the optimized graph, or a copy of the input): a new model to free. */
GRAPPO_API int grappo_result_model(const grappo_result *r, grappo_model **out);

/*
** The measured report as JSON text (the format of `grappo optimize --report`: before/after
** latency with per-run samples, peak memory, weights, accuracy, rules applied, the verdict,
** the ppo+bo trial table). *json is allocated: free it with grappo_free.
*/
GRAPPO_API int grappo_result_json(const grappo_result *r, char **json);

/*
** Writes the resulting model as a frozen GraphDef, after checking in memory that the bytes
** read back compute the same outputs; atomic (a failure leaves no file behind).
*/
GRAPPO_API int grappo_result_save(const grappo_result *r, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* GRAPPO_H */
