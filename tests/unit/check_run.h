/* check_run: run a Check suite the same way in every unit-test program:
 * normal output (tests/run.sh reads its summary line), exit 1 on any failure. */
#ifndef GW_CHECK_RUN_H
#define GW_CHECK_RUN_H

#include <check.h>

static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#endif
