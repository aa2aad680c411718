/* sensitivity_report.h - a per-node sensitivity ranking (optimize/sensitivity.h) as JSON: the
 * "sensitivity" object of the optimize report and of `grappo sensitivity --json`. */
#ifndef GRAPPO_SENSITIVITY_REPORT_H
#define GRAPPO_SENSITIVITY_REPORT_H

#include <cjson/cJSON.h>

#include "../optimize/sensitivity.h"

/* the ranking as a new JSON object (NULL when out of memory) */
cJSON *sensitivity_to_json(const Sensitivity *x);

#endif
