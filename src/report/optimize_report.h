/* optimize_report.h - an OptimizeResult as the JSON report `grappo optimize --report` writes
 * and grappo_result_json returns: the measured before/after table, accuracy, rules applied,
 * the search's numbers, the ppo policy statistics and the ppo+bo trial table. */
#ifndef GRAPPO_OPTIMIZE_REPORT_H
#define GRAPPO_OPTIMIZE_REPORT_H

#include "../optimize/optimize.h"

/* names for the report: the input, the output (may be NULL: not written), the method as the
   user spelled it ("rules:a,b"; NULL: the method's name) */
typedef struct OptimizeReportNames {
    const char *input, *output, *search;
} OptimizeReportNames;

/* The report as a JSON text (malloc'd, free with free()), NULL when out of memory. */
char *optimize_result_to_json(const OptimizeResult *r, const OptimizeReportNames *names);

#endif
