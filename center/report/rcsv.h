/*
 * rcsv: a review as CSV (docs/design.md section 19): one table per section,
 * each opened by a line "# SECTION" and its header row, tables separated by
 * an empty line; fields quoted as RFC 4180 says (a field with a comma, a
 * quote or a line end), UTF-8, times RFC 3339 in the period's zone, an empty
 * field for null.  The numbers are JSON's, rounded alike.  Pure apart from
 * writing to f.
 */
#ifndef GW_RCSV_H
#define GW_RCSV_H

#include <stdio.h>

#include "review.h"

/* 0, or -1 on a write error. */
int rcsv_write(const struct review *rv, FILE *f);

#endif
