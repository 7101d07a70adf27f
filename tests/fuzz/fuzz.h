/*
 * fuzz: what the fuzz targets of tests/fuzz/ share.  Each fuzz_NAME.c is one
 * libFuzzer target (LLVMFuzzerTestOneInput); `make fuzz` links it with
 * libFuzzer, `make check` links it with replay.c, a plain main that feeds the
 * seed corpus through it.  A target calls the same entry points the programs
 * call on data from outside (a file, a topic and its payload, the bytes of a
 * Modbus answer) and turns every broken promise of their headers into an
 * abort, so a wrong answer is found like a crash.  One thread.
 */
#ifndef GW_FUZZ_H
#define GW_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct cfg_sensor;
struct plan;
struct reading;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: print where and what, then abort (a "crash"). */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* This process's scratch directory (under $TMPDIR, default /tmp), made on
 * first use and removed with its files at exit. */
const char *fuzz_scratch_dir(void);

/* Replace the file at path with size bytes of data; aborts on an I/O error. */
void fuzz_write_file(const char *path, const void *data, size_t size);

/* Device models of the source tree: $FUZZ_MODELS_DIR, default
 * sensors/models (the targets run from the repository root). */
const char *fuzz_models_dir(void);

/* The reference shelter: every model and every kind on it (shared DI
 * module, inverted inputs, an RTU and a TCP bus), loaded once with the real
 * config loader and planned with the real planner.  Aborts if it does not
 * load: then the targets that use it would test nothing. */
const struct cfg *fuzz_shelter(void);
const struct plan *fuzz_shelter_plan(void);

/* What the gateway's main loop does with the data of a request's answer
 * (gateway/main.c): kind_decode() for each member at its offset, then the
 * reading's JSON; every reading is checked with fuzz_check_reading(). */
void fuzz_decode_request(const struct cfg *c, const struct plan *p, int request,
                         const uint16_t *regs, const uint8_t *bits);

/* A decoded reading of a sensor that passed the config's checks: its JSON
 * is an object with the sensor, kind and quality, and a reading of quality
 * good carries every value of its kind (kind.h, docs/design.md section 10). */
void fuzz_check_reading(const struct cfg_sensor *s, const struct reading *r);

#endif
