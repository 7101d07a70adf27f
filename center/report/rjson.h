/*
 * rjson: a review as JSON (docs/design.md section 19 and its keys
 * and a few more): one object, each section a list of objects (times RFC
 * 3339 in the period's zone, null while not happened), door_faults_by_child
 * an object slug -> count.  Pure apart from writing to f.
 */
#ifndef GW_RJSON_H
#define GW_RJSON_H

#include <stdio.h>

#include "review.h"

/* Write rv to f; generated_ms is when the review was made.  0, or -1 on
 * ENOMEM or a write error. */
int rjson_write(const struct review *rv, int64_t generated_ms, FILE *f);

#endif
