/*
 * rhtml: a review as one self-contained HTML page in Chinese
 * (docs/design.md section 19): summary figures, inline SVG charts (door
 * faults per next level down as bars, door travel-time trends as lines, a
 * timeline of the floods), tables that sort on a click (a few lines of
 * inline script), print CSS for A4.  Nothing is loaded from anywhere: no
 * fonts, scripts, images or styles outside the file.  The numbers are the
 * JSON's, rounded alike.  Pure apart from writing to f.
 */
#ifndef GW_RHTML_H
#define GW_RHTML_H

#include <stdio.h>

#include "review.h"

/* 0, or -1 on a write error. */
int rhtml_write(const struct review *rv, int64_t generated_ms, FILE *f);

#endif
