# shelter-gateway build.  `make` builds the daemon and the simulator into
# build/, `make check` runs every test, `make demo` runs the demo evening.
# Missing Debian packages are installed first (scripts/deps.sh), so a fresh
# Debian 12 machine needs nothing but these commands.

PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
MODELS_DIR ?= $(PREFIX)/share/shelter-gateway/models
VERSION    := 0.1.0

B       := build
PKGS    := libmodbus sqlite3 libcjson inih libcurl libsystemd libcrypto
CC      ?= cc
WARN    := -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Werror
CFLAGS  ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DGW_VERSION='"$(VERSION)"' -I$(B) -Ilib -Igateway -Isensors -Icenter
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpaho-mqtt3as -lpthread -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

# Every .c under gateway/ and sensors/ except the programs' mains is library code.
LIB_SRC  := $(filter-out gateway/main.c, $(wildcard lib/*.c gateway/*.c sensors/*.c))
SIM_SRC  := $(filter-out sensors/sim/main.c, $(wildcard sensors/sim/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
SIM_OBJ  := $(SIM_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# Test drivers the integration scripts run (not Check suites themselves).
DRIVERS  := $(B)/tests/influx_drive
# Fuzz targets (tests/fuzz/fuzz_NAME.c); `make check` replays their seeds.
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(B)/fuzz/replay-%)

DEPS_STAMP := $(B)/.deps-ok

.PHONY: all deps check check-sanitize unit integration demo bench fuzz install clean format FORCE soak
all: $(B)/shelter-gateway $(B)/shelter-sim $(B)/shelter-watch

# Install missing Debian packages once per build tree (idempotent script).
deps $(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(B)
	@scripts/deps.sh
	@touch $(DEPS_STAMP)

# Install paths compiled in; rewritten only when they change, so
# `make install PREFIX=/usr` rebuilds what depends on them.
$(B)/config.h: FORCE
	@mkdir -p $(B)
	@echo '#define GW_MODELS_DIR "$(MODELS_DIR)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(B)/lib/paths.o: $(B)/config.h

$(B)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(B)/libgw.a: $(LIB_OBJ)
	ar rcs $@ $^

$(B)/shelter-gateway: $(B)/gateway/main.o $(B)/libgw.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# The simulator's modules (all of sensors/sim but its main) form libsim.a so
# their unit tests link them like any other module.
$(B)/libsim.a: $(SIM_OBJ)
	ar rcs $@ $^

$(B)/shelter-sim: $(B)/sensors/sim/main.o $(B)/libsim.a $(B)/libgw.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# shelter-watch (center/watch/): its pure module forms libwatch.a, tested by
# tests/unit/test_watch.c.
WATCH_OBJ := $(patsubst %.c,$(B)/%.o,$(filter-out center/watch/main.c,$(wildcard center/watch/*.c)))
$(B)/libwatch.a: $(WATCH_OBJ)
	ar rcs $@ $^

$(B)/shelter-watch: $(B)/center/watch/main.o $(B)/libwatch.a $(B)/libgw.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/tests/test_watch: tests/unit/test_watch.c $(B)/libwatch.a $(B)/libgw.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -MMD -MP -o $@ $< \
		$(B)/libwatch.a $(B)/libgw.a $(PKG_LIBS) $(CHECK_LIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libsim.a $(B)/libgw.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -Itests/unit -MMD -MP -o $@ $< \
		$(B)/libsim.a $(B)/libgw.a $(PKG_LIBS) $(CHECK_LIBS)

unit: $(UNIT_BIN)
integration: all $(DRIVERS)

# make check: unit tests (Check) then integration tests against real peers;
# tests/run.sh prints the closing "N passed, N failed" line.
check: all $(UNIT_BIN) $(DRIVERS) $(FUZZ_REPLAY)
	@tests/run.sh $(UNIT_BIN)

# make check-sanitize: the same suite against an AddressSanitizer and
# UndefinedBehaviorSanitizer build in build-sanitize/ (any finding aborts the
# program, so the test that ran it fails).  Leak checking is off: Paho keeps
# allocations for the process's life.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
check-sanitize: $(DEPS_STAMP)
	$(MAKE) B=build-sanitize CFLAGS="$(SAN_FLAGS)" all unit build-sanitize/tests/influx_drive \
		$(FUZZ_TARGETS:%=build-sanitize/fuzz/replay-%)
	@BUILD=$(CURDIR)/build-sanitize ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1 tests/run.sh $(UNIT_SRC:tests/unit/%.c=build-sanitize/tests/%)

# make bench: memory, CPU and throughput figures (printed, never asserted).
$(B)/tests/bench_core: tests/bench/bench_core.c $(B)/libgw.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $< $(B)/libgw.a $(PKG_LIBS)

bench: all $(B)/tests/bench_core
	@tests/bench/run.sh

# make soak: the fault soak (gateway SIGKILLs, broker restarts, WAL damage,
# a full disk) against a real mosquitto; prints its figures.  SOAK_SCALE=N.
soak: all
	@tests/soak/run.sh

# make fuzz: the libFuzzer targets tests/fuzz/fuzz_NAME.c, built with clang,
# ASan and UBSan in build-fuzz/, each run FUZZ_SECONDS (default 60) from its
# seed corpus tests/fuzz/corpus/NAME (new inputs go to a scratch directory,
# not the repository); tests/fuzz/run.sh prints executions, exec/s, coverage
# and crashes per target.  clang is installed here, not for `make check`,
# which links the same targets with a plain driver (replay.c) and feeds them
# their seeds (tests/integration/test_fuzz_replay.sh), so they keep building.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
FUZZ_LIBS = $(B)/libwatch.a $(B)/libsim.a $(B)/libgw.a
.SECONDARY: $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz_%.o) $(B)/tests/fuzz/common.o \
	$(B)/tests/fuzz/replay.o

$(B)/fuzz/replay-%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/common.o $(B)/tests/fuzz/replay.o \
		$(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(FUZZ_LIBS) $(PKG_LIBS)

$(B)/fuzz/fuzz-%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/common.o $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(FUZZ_LIBS) $(PKG_LIBS)

fuzz:
	@scripts/deps.sh fuzz
	$(MAKE) B=build-fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" $(FUZZ_TARGETS:%=build-fuzz/fuzz/fuzz-%)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh build-fuzz/fuzz $(FUZZ_TARGETS)

demo: all
	@BUILD=$(abspath $(B)) scripts/demo.sh

# The unit goes to $(PREFIX)/lib/systemd/system: /usr/lib/systemd/system for
# PREFIX=/usr (the same directory as /lib/systemd/system on merged-/usr
# Debian 12), /usr/local/lib/systemd/system for the default prefix; systemd
# searches both.  The unit assumes SYSCONFDIR=/etc.  A live install as root
# (no DESTDIR) also creates the service user and gives it read access to
# gateway.conf; a package does that in its postinst.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MODELS_DIR)
	install -m 755 $(B)/shelter-gateway $(B)/shelter-sim $(DESTDIR)$(PREFIX)/bin/
	@if [ -x $(B)/shelter-watch ]; then \
		echo "install -m 755 $(B)/shelter-watch $(DESTDIR)$(PREFIX)/bin/"; \
		install -m 755 $(B)/shelter-watch $(DESTDIR)$(PREFIX)/bin/; fi
	install -m 644 sensors/models/*.model $(DESTDIR)$(MODELS_DIR)/
	install -d $(DESTDIR)$(SYSCONFDIR)/shelter-gateway
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/shelter-gateway/gateway.conf ]; then \
		echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/shelter-gateway/gateway.conf"; \
	else install -m 640 conf/gateway.conf $(DESTDIR)$(SYSCONFDIR)/shelter-gateway/gateway.conf; fi
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 644 man/shelter-sim.1 man/shelter-watch.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/shelter-gateway.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 man/shelter-gateway.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d
	sed 's|@BINDIR@|$(PREFIX)/bin|g' systemd/shelter-gateway.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/shelter-gateway.service
	chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/shelter-gateway.service
	install -m 644 systemd/shelter-gateway.sysusers \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/shelter-gateway.conf
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
		echo "systemd-sysusers $(PREFIX)/lib/sysusers.d/shelter-gateway.conf"; \
		systemd-sysusers $(PREFIX)/lib/sysusers.d/shelter-gateway.conf && \
		chgrp shelter-gateway $(SYSCONFDIR)/shelter-gateway/gateway.conf; fi

format:
	clang-format -i lib/*.[ch] gateway/*.[ch] center/watch/*.[ch] sensors/*.[ch] sensors/sim/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch]

clean:
	rm -rf $(B) build-sanitize build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
