/* grappo.h - the public header for embedding grappo (link build/libgrappo.a).
 *
 * Everything a host program needs: the IR (Graph, Node, Value), GraphDef and .npy I/O, the
 * model zoo and the reference runtime. See README.md for an example. */
#ifndef GRAPPO_H
#define GRAPPO_H

#define GRAPPO_VERSION "0.1.0"

#include "../src/util/err.h"
#include "../src/util/rng.h"
#include "../src/graph/dtype.h"
#include "../src/graph/tensor.h"
#include "../src/graph/attr.h"
#include "../src/graph/op.h"
#include "../src/graph/graph.h"
#include "../src/graph/input_gen.h"
#include "../src/io/graphdef.h"
#include "../src/io/npy.h"
#include "../src/zoo/zoo.h"
#include "../src/runtime/ref.h"
#include "../src/runtime/plan.h"

#endif
