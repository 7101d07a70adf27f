/*
 * Unit tests of relay.c: the coils of a bus's output modules between the
 * main thread and the poller, against a fake do8 module (its coils, writes
 * it refuses, a relay that does not switch, a module that does not answer)
 * in place of the poller's Modbus transactions.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <modbus.h>

#include "cfg.h"
#include "check_run.h"
#include "relay.h"

#define MODELS "sensors/models"

static const char CONF[] = "[gateway]\n"
                           "id = sh-0001\ncity = zz\ndistrict = js\nstreet = fc\n"
                           "community = df\nproperty = wk\nname = t\nstate_dir = /tmp/gw-state\n"
                           "[bus rs485-1]\ntype = rtu\ndevice = /dev/ttyS1\nretries = 1\n"
                           "[sensor leak-1]\nbus = rs485-1\nunit = 1\nkind = water_leak\n"
                           "model = di8\ninput = 0\n"
                           "[output siren]\nbus = rs485-1\nunit = 12\nmodel = do8\nchannel = 0\n"
                           "on = leak-1:leak\nuntil = acked\n"
                           "[output sign]\nbus = rs485-1\nunit = 12\nmodel = do8\nchannel = 3\n"
                           "on = leak-1:leak\n";

/* The fake module: unit 12's coils. */
static struct {
    uint8_t coils[8];
    bool refuse, stuck, mute;
    int writes, reads;
} mod;
static struct cfg *cfg;
static struct relay *relay;

static int fake_write(void *ctx, int unit, int fc, uint16_t addr, bool on)
{
    (void)ctx;
    ck_assert_int_eq(unit, 12);
    ck_assert_int_eq(fc, 5);
    ck_assert_uint_lt(addr, 8);
    mod.writes++;
    if (mod.mute) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (mod.refuse) {
        errno = EMBXSBUSY;
        return -1;
    }
    if (!mod.stuck)
        mod.coils[addr] = on;
    return 0;
}

static int fake_read(void *ctx, int unit, uint16_t start, uint16_t count, uint8_t *bits)
{
    (void)ctx;
    ck_assert_int_eq(unit, 12);
    ck_assert_uint_eq(start, 0);
    ck_assert_uint_eq(count, 8);
    mod.reads++;
    if (mod.mute) {
        errno = ETIMEDOUT;
        return -1;
    }
    memcpy(bits, mod.coils, 8);
    return 0;
}

static const struct relay_io io = {
    .ctx = NULL, .attempts = 2, .write_coil = fake_write, .read_coils = fake_read};

static void setup(void)
{
    char path[] = "/tmp/test_relay.XXXXXX";
    int fd = mkstemp(path), nerr = 0;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, CONF, strlen(CONF)), (ssize_t)strlen(CONF));
    close(fd);
    cfg = cfg_load(path, MODELS, stderr, &nerr);
    unlink(path);
    ck_assert_ptr_nonnull(cfg);
    relay = relay_new(cfg, 0, -1);
    ck_assert_ptr_nonnull(relay);
    memset(&mod, 0, sizeof(mod));
}

static void teardown(void)
{
    relay_free(relay);
    cfg_free(cfg);
}

static struct relay_report rep[2];
static bool changed[2];

static int take(void)
{
    memset(changed, 0, sizeof(changed));
    return relay_take(relay, rep, changed);
}

START_TEST(test_nothing_is_written_before_main_says)
{
    relay_serve(relay, 0, &io);
    ck_assert_int_eq(mod.writes, 0);
    ck_assert_int_eq(mod.reads, 1); /* read back all the same */
    ck_assert_int_eq(take(), 2);
    ck_assert_int_eq(rep[0].actual, 0);
    ck_assert(!rep[0].fault);
    ck_assert_int_eq(relay_due_ms(relay, 0), RELAY_READBACK_MS);
}
END_TEST

START_TEST(test_want_writes_at_once_and_reads_back)
{
    ck_assert(relay_want(relay, 0, true));
    ck_assert(!relay_want(relay, 0, true)); /* no change, no kick */
    ck_assert_int_eq(relay_due_ms(relay, 0), 0);
    relay_serve(relay, 0, &io);
    ck_assert_int_eq(mod.coils[0], 1);
    ck_assert_int_eq(mod.writes, 1);
    ck_assert_int_eq(mod.reads, 1);
    take();
    ck_assert(changed[0]);
    ck_assert_int_eq(rep[0].actual, 1);
    ck_assert(!rep[0].fault);
    ck_assert_int_gt(rep[0].wrote_wall_ms, 0);
    /* Nothing due until the next read-back. */
    ck_assert_int_eq(relay_due_ms(relay, 10), RELAY_READBACK_MS - 10);
    ck_assert_int_eq(take(), 0);
}
END_TEST

START_TEST(test_refused_write_is_a_fault_until_a_write_takes)
{
    mod.refuse = true;
    relay_want(relay, 0, true);
    relay_serve(relay, 0, &io);
    take();
    ck_assert(rep[0].fault);
    ck_assert_ptr_nonnull(strstr(rep[0].why, "switching on"));
    ck_assert_int_eq(rep[0].actual, 0);
    ck_assert(!changed[1] || !rep[1].fault); /* the neighbour is fine */
    mod.refuse = false;
    relay_serve(relay, RELAY_READBACK_MS, &io); /* the read-back finds it off: written again */
    take();
    ck_assert_int_eq(mod.coils[0], 1);
    ck_assert(!rep[0].fault);
    ck_assert_int_eq(rep[0].actual, 1);
}
END_TEST

START_TEST(test_differing_read_back_after_the_retries_is_a_fault)
{
    mod.stuck = true;
    relay_want(relay, 1, true);
    relay_serve(relay, 0, &io);
    take();
    ck_assert(rep[1].fault);
    ck_assert_str_eq(rep[1].why, "read-back off, wanted on (after 2 writes)");
    ck_assert_int_eq(mod.writes, 2); /* the write and one retry (retries = 1) */
    mod.stuck = false;
    relay_serve(relay, RELAY_READBACK_MS, &io);
    take();
    ck_assert(!rep[1].fault);
    ck_assert_int_eq(mod.coils[3], 1);
}
END_TEST

START_TEST(test_a_coil_changed_behind_our_back_is_set_again)
{
    relay_want(relay, 0, true);
    relay_serve(relay, 0, &io);
    mod.coils[0] = 0; /* the module lost power and came back */
    relay_serve(relay, RELAY_READBACK_MS, &io);
    take();
    ck_assert_int_eq(mod.coils[0], 1);
    ck_assert(!rep[0].fault);
}
END_TEST

START_TEST(test_silent_module_is_a_fault_after_lost_after_cycles)
{
    relay_want(relay, 0, false);
    relay_serve(relay, 0, &io);
    take();
    mod.mute = true;
    for (int i = 1; i < RELAY_LOST_AFTER; i++) {
        relay_serve(relay, i * RELAY_READBACK_MS, &io);
        ck_assert_int_eq(take(), 0);
    }
    relay_serve(relay, RELAY_LOST_AFTER * RELAY_READBACK_MS, &io);
    take();
    ck_assert(rep[0].fault && rep[1].fault);
    ck_assert_int_eq(rep[0].actual, -1);
    ck_assert_ptr_nonnull(strstr(rep[0].why, "no read-back"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("relay");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_nothing_is_written_before_main_says);
    tcase_add_test(tc, test_want_writes_at_once_and_reads_back);
    tcase_add_test(tc, test_refused_write_is_a_fault_until_a_write_takes);
    tcase_add_test(tc, test_differing_read_back_after_the_retries_is_a_fault);
    tcase_add_test(tc, test_a_coil_changed_behind_our_back_is_set_again);
    tcase_add_test(tc, test_silent_module_is_a_fault_after_lost_after_cycles);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
