/* Unit tests: center/watch/exec.c, shelter-watch's --exec runner with real
 * children of /bin/sh: the alarm JSON on stdin and the topic in the
 * environment, the bounds (running children, waiting runs, the oldest
 * waiting run dropped), a hung CMD killed with its whole process group, and
 * the drain at exit. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "clock.h"
#include "watch/exec.h"

static char dir[] = "/tmp/test_exec.XXXXXX";

static void setup(void)
{
    strcpy(dir, "/tmp/test_exec.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *path(const char *name)
{
    static char buf[4][256];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
    return p;
}

static char *slurp(const char *file)
{
    static char buf[4096];
    FILE *f = fopen(file, "r");
    size_t n;

    if (f == NULL)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Pump and reap until nothing runs or waits (or timeout_ms): 1 when done. */
static int run_all(struct exec *x, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;

    for (;;) {
        exec_pump(x);
        exec_reap(x, mono_ms());
        exec_pump(x);
        if (exec_running(x) == 0)
            return 1;
        if (mono_ms() >= deadline)
            return 0;
        poll(NULL, 0, 20);
    }
}

START_TEST(test_child_gets_json_on_stdin_and_topic_in_env)
{
    char cmd[512];
    const char *json = "{\"seq\":7,\"gateway\":\"gw-1\",\"message\":\"集水坑水位超高\"}";

    snprintf(cmd, sizeof(cmd),
             "cat >'%s/stdin'; printf %%s \"$SHELTER_ALARM_TOPIC\" >'%s/topic'; "
             "env | grep -c '^SHELTER_ALARM_TOPIC=' >'%s/count'",
             dir, dir, dir);
    /* One of ours in the environment already: the child sees only the alarm's. */
    setenv("SHELTER_ALARM_TOPIC", "stale", 1);
    struct exec *x = exec_new(&(struct exec_opts){.cmd = cmd});
    ck_assert_ptr_nonnull(x);
    exec_add(x, json, "shelter/zz/js/fc/df/wk/gw-1/alarm/sump-east/high_high", "gw-1 sump seq 7");
    ck_assert_int_eq(exec_running(x), 0); /* started by exec_pump() only */
    ck_assert(run_all(x, 5000));
    ck_assert_str_eq(slurp(path("stdin")), json);
    ck_assert_str_eq(slurp(path("topic")), "shelter/zz/js/fc/df/wk/gw-1/alarm/sump-east/high_high");
    ck_assert_str_eq(slurp(path("count")), "1\n");
    exec_free(x);
    exec_free(NULL);
    unsetenv("SHELTER_ALARM_TOPIC");
}
END_TEST

/* At most max_running at a time; at most max_queued waiting, the oldest
 * dropped when more come. */
START_TEST(test_bounded_running_and_waiting)
{
    struct exec *x = exec_new(&(struct exec_opts){
        .cmd = "sleep 0.3; printf x >\"$SHELTER_ALARM_TOPIC\"", .max_running = 1, .max_queued = 2});
    ck_assert_ptr_nonnull(x);
    exec_add(x, "{}", path("a"), "a");
    exec_add(x, "{}", path("b"), "b");
    exec_add(x, "{}", path("c"), "c"); /* the queue holds 2: a goes */
    exec_pump(x);
    ck_assert_int_eq(exec_running(x), 1);
    ck_assert(run_all(x, 5000));
    ck_assert_ptr_null(slurp(path("a")));
    ck_assert_str_eq(slurp(path("b")), "x");
    ck_assert_str_eq(slurp(path("c")), "x");
    exec_free(x);
}
END_TEST

/* A hung CMD is killed after timeout_ms, its background children with it
 * (its own process group). */
START_TEST(test_hung_child_killed_with_its_group)
{
    char cmd[256];
    long bg = 0;

    snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! >'%s/bg'; wait", dir);
    struct exec *x = exec_new(&(struct exec_opts){.cmd = cmd, .timeout_ms = 300});
    ck_assert_ptr_nonnull(x);
    exec_add(x, "{}", "t", "hung");
    exec_pump(x);
    int64_t started = mono_ms();
    ck_assert(run_all(x, 5000));
    ck_assert_int_ge(mono_ms() - started, 300);
    ck_assert_ptr_nonnull(slurp(path("bg")));
    bg = atol(slurp(path("bg")));
    ck_assert_int_gt(bg, 0);
    /* The background sleep got the SIGKILL too: gone, or a zombie being reaped. */
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        char stat[64];
        snprintf(stat, sizeof(stat), "/proc/%ld/stat", bg);
        char *s = slurp(stat);
        gone = s == NULL || strstr(s, ") Z ") != NULL;
        if (!gone)
            poll(NULL, 0, 20);
    }
    ck_assert_msg(gone, "the CMD's background child %ld survived", bg);
    exec_free(x);
}
END_TEST

/* At exit: what waits is dropped, what runs gets drain_ms and is then
 * stopped. */
START_TEST(test_free_drains_then_stops)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "sleep 0.2; printf done >'%s/quick'", dir);
    struct exec *x = exec_new(&(struct exec_opts){.cmd = cmd, .max_running = 1});
    ck_assert_ptr_nonnull(x);
    exec_add(x, "{}", "t", "quick");
    exec_add(x, "{}", "t", "never started");
    exec_pump(x);
    exec_free(x); /* waits for the running one */
    ck_assert_str_eq(slurp(path("quick")), "done");

    x = exec_new(&(struct exec_opts){.cmd = "sleep 30", .drain_ms = 200});
    ck_assert_ptr_nonnull(x);
    exec_add(x, "{}", "t", "slow");
    exec_pump(x);
    int64_t t0 = mono_ms();
    exec_free(x);
    ck_assert_int_lt(mono_ms() - t0, 5000);
}
END_TEST

START_TEST(test_new_needs_a_command)
{
    errno = 0;
    ck_assert_ptr_null(exec_new(&(struct exec_opts){.cmd = NULL}));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(exec_new(NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("exec");
    TCase *tc = tcase_create("exec");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_child_gets_json_on_stdin_and_topic_in_env);
    tcase_add_test(tc, test_bounded_running_and_waiting);
    tcase_add_test(tc, test_hung_child_killed_with_its_group);
    tcase_add_test(tc, test_free_drains_then_stops);
    tcase_add_test(tc, test_new_needs_a_command);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
