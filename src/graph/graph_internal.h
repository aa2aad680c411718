/* graph_internal.h - functions shared between the graph/ source files, not part of the API. */
#ifndef GRAPPO_GRAPH_INTERNAL_H
#define GRAPPO_GRAPH_INTERNAL_H

#include "graph.h"

void node_free(Node *n);
int graph_reindex(Graph *g); /* rebuild the name index after nodes moved */

#endif
