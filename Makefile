# shelter-gateway build.  `make` builds the daemon and the simulator into
# build/, `make check` runs every test, `make demo` runs the demo evening.
# Missing Debian packages are installed first (scripts/deps.sh), so a fresh
# Debian 12 machine needs nothing but these commands.

PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
MODELS_DIR ?= $(PREFIX)/share/shelter-gateway/models
MANDIR     ?= $(PREFIX)/share/man
# The one place the version is written: every program's --version, the
# status payload, the InfluxDB user agent and the Debian packages (make deb
# writes debian/changelog from it).  `make VERSION=...` overrides it.
VERSION    := $(shell cat VERSION)

B       := build
PKGS    := libmodbus sqlite3 libcjson inih libcurl libsystemd libcrypto
CC      ?= cc
WARN    := -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Werror
CFLAGS  ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DGW_VERSION='"$(VERSION)"'
PKG_CONFIG ?= pkg-config

# Cross-compiling: `make ARCH=arm64` builds every program for arm64 into
# build-arm64/ with Debian's cross toolchain (crossbuild-essential-arm64 and
# the :arm64 -dev packages; `scripts/deps.sh arm64` installs them).  Only an
# ARCH given on the command line counts (an ARCH in the environment, as some
# shells and kernel build setups export, is ignored).
BUILD_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
ifneq ($(origin ARCH),command line)
ARCH := $(BUILD_ARCH)
endif
ifneq ($(ARCH),$(BUILD_ARCH))
CROSS   := $(shell dpkg-architecture -a$(ARCH) -qDEB_HOST_GNU_TYPE 2>/dev/null)
$(if $(CROSS),,$(error ARCH=$(ARCH): not an architecture dpkg-architecture knows))
B       := build-$(ARCH)
ifeq ($(origin CC),default)
CC      := $(CROSS)-gcc
endif
PKG_CONFIG := $(CROSS)-pkg-config
DEPS_ARG := $(ARCH)
endif

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lpaho-mqtt3as -lpthread -lm
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

# The layout (docs/design.md section 2): lib/ is what two or more programs
# share (libshelter.a), sensors/ the sensor knowledge (libsensors.a), and one
# folder per program: gateway/ (shelter-gateway), sensors/sim/ (shelter-sim),
# center/watch/ (shelter-watch).
obj = $(patsubst %.c,$(B)/%.o,$(1))
LIB_OBJ     := $(call obj,$(wildcard lib/*.c))
SENSORS_OBJ := $(call obj,$(wildcard sensors/*.c))
GW_OBJ      := $(call obj,$(filter-out gateway/main.c,$(wildcard gateway/*.c)))
SIM_OBJ     := $(call obj,$(filter-out sensors/sim/main.c,$(wildcard sensors/sim/*.c)))
WATCH_OBJ   := $(call obj,$(filter-out center/watch/main.c,$(wildcard center/watch/*.c)))
NOTIFY_OBJ  := $(call obj,$(filter-out center/notify/main.c,$(wildcard center/notify/*.c)))
REPORT_OBJ  := $(call obj,$(filter-out center/report/main.c,$(wildcard center/report/*.c)))
LIBSHELTER  := $(B)/libshelter.a
LIBSENSORS  := $(B)/libsensors.a
G           := $(B)/gateway

# Layering, enforced by include paths: each folder sees only the folders
# below it (a header outside them does not compile).  -I$(B): config.h.
# lib/ with -iquote: its "ini.h" is ours, <ini.h> is libinih's.
$(LIB_OBJ):                              INC := -I$(B) -iquote lib
$(SENSORS_OBJ):                          INC := -Ilib -Isensors
$(GW_OBJ) $(G)/main.o:                   INC := -Ilib -Isensors -Igateway
$(SIM_OBJ) $(B)/sensors/sim/main.o:      INC := -Ilib -Isensors -Isensors/sim
$(WATCH_OBJ) $(B)/center/watch/main.o:   INC := -Ilib -Isensors -Icenter/watch
$(NOTIFY_OBJ) $(B)/center/notify/main.o: INC := -Ilib -Isensors -Icenter/notify
$(REPORT_OBJ) $(B)/center/report/main.o: INC := -Ilib -Isensors -Icenter/report
# Tests and drivers reach into every folder.
TEST_INC := -I$(B) -Ilib -Isensors -Igateway -Icenter -Icenter/notify -Icenter/report -Itests/unit
$(B)/tests/fuzz/%.o:                     INC := $(TEST_INC)

# What a module needs below it: the alarm engine the sensor kinds; cfg.c the
# engine too (it applies the alarm keys through alarm_cfg_set) and the models.
ALARM_LINK := $(G)/alarm_rules.o $(G)/alarm_engine.o $(G)/alarm_state.o $(LIBSENSORS)
CFG_LINK   := $(G)/cfg.o $(ALARM_LINK)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# Test drivers the integration scripts run (not Check suites themselves).
DRIVERS  := $(B)/tests/influx_drive $(B)/tests/hold_drive
# Stand-ins of outside services on loopback (tests/standins/): the WeCom and
# DingTalk robots and a webhook (libmicrohttpd), for shelter-notify.
MHD_LIBS  = $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
STANDINS := $(B)/tests/robot-standin $(B)/tests/alarmpub
# Fuzz targets (tests/fuzz/fuzz_NAME.c); `make check` replays their seeds.
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(B)/fuzz/replay-%)

DEPS_STAMP := $(B)/.deps-ok

.PHONY: all deps check check-sanitize unit integration demo bench fuzz install clean format \
	format-check FORCE soak deb check-deb check-arm64
all: $(B)/shelter-gateway $(B)/shelter-sim $(B)/shelter-watch $(B)/shelter-notify \
	$(B)/shelter-report

# Install missing Debian packages once per build tree (idempotent script).
deps $(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(B)
	@scripts/deps.sh $(DEPS_ARG)
	@touch $(DEPS_STAMP)

# Install paths compiled in; rewritten only when they change, so
# `make install PREFIX=/usr` rebuilds what depends on them.
$(B)/config.h: FORCE
	@mkdir -p $(B)
	@echo '#define GW_MODELS_DIR "$(MODELS_DIR)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(B)/lib/paths.o: $(B)/config.h

# The version is a -D flag, which make does not track: the objects whose
# source names GW_VERSION depend on a stamp rewritten when it changes.
$(B)/version.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(VERSION)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(call obj,$(shell grep -rl GW_VERSION lib sensors gateway center --include='*.c' 2>/dev/null)): \
	$(B)/version.stamp

$(B)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(INC) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(LIBSHELTER): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(LIBSENSORS): $(SENSORS_OBJ)
	rm -f $@
	ar rcs $@ $^

# A program: its objects, then the archives (sensors before lib).
link = $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(PKG_LIBS)

$(B)/shelter-gateway: $(G)/main.o $(GW_OBJ) $(LIBSENSORS) $(LIBSHELTER)
	$(link)

# The simulator reads gateway.conf's [bus] and [sensor] through
# sensors/sensorcfg.c: nothing of the gateway's.
$(B)/shelter-sim: $(B)/sensors/sim/main.o $(SIM_OBJ) $(LIBSENSORS) $(LIBSHELTER)
	$(link)

# shelter-notify links libmicrohttpd (the ack pages) besides the common libraries.
$(B)/shelter-notify: $(B)/center/notify/main.o $(NOTIFY_OBJ) $(LIBSENSORS) $(LIBSHELTER)
	$(link) $(MHD_LIBS)

$(B)/shelter-watch: $(B)/center/watch/main.o $(WATCH_OBJ) $(LIBSENSORS) $(LIBSHELTER)
	$(link)

$(B)/shelter-report: $(B)/center/report/main.o $(REPORT_OBJ) $(LIBSENSORS) $(LIBSHELTER)
	$(link)

# Per-test link lists: each unit test links the modules it tests and what
# they need below them; every test also gets libshelter.a.  A module can so
# be tested alone, or against stubs.
S := $(B)/sensors/sim
LINK_test_alarm          := $(ALARM_LINK)
LINK_test_alarmdef       := $(LIBSENSORS)
LINK_test_cfg            := $(CFG_LINK)
LINK_test_command        := $(G)/command.o $(G)/payload.o $(ALARM_LINK)
# delivery.c wires the gateway's sinks in delivery_open(), so its test links them
# (unused: the test passes its own fake sink to delivery_new()).
LINK_test_delivery       := $(G)/delivery.o $(G)/selfalarm.o $(G)/sync.o $(G)/storage.o \
                            $(G)/sink_mqtt.o $(G)/intake.o $(G)/sink_influx.o $(G)/reload.o \
                            $(G)/outbox.o $(G)/payload.o $(G)/influx.o \
                            $(G)/filecheck.o $(G)/uplink.o $(G)/command.o \
                            $(CFG_LINK)
LINK_test_exec           := $(B)/center/watch/exec.o
LINK_test_fleet          := $(B)/center/watch/fleet.o $(G)/payload.o $(ALARM_LINK)
LINK_test_filecheck      := $(G)/filecheck.o $(G)/influx.o $(CFG_LINK)
LINK_test_gwmsg          :=
LINK_test_influx         := $(G)/influx.o
LINK_test_ini            :=
LINK_test_kind           := $(LIBSENSORS)
LINK_test_lineproto      := $(LIBSENSORS)
LINK_test_model          := $(LIBSENSORS)
LINK_test_mqtt_transport :=
LINK_test_outbox         := $(G)/outbox.o
LINK_test_output         := $(G)/output.o
LINK_test_parse          :=
LINK_test_plan           := $(G)/plan.o $(G)/rqueue.o
LINK_test_poller         := $(G)/poller.o $(G)/relay.o $(G)/busload.o $(G)/mbtcp.o $(G)/plan.o $(G)/rqueue.o $(CFG_LINK)
LINK_test_printable      := $(G)/command.o
LINK_test_relay          := $(G)/relay.o $(CFG_LINK)
LINK_test_sensorcfg      := $(LIBSENSORS)
LINK_test_report         := $(REPORT_OBJ) $(LIBSENSORS)
LINK_test_sim_mbslave    := $(S)/mbslave.o $(S)/simstate.o $(LIBSENSORS)
LINK_test_sim_scenario   := $(S)/scenario.o $(S)/simstate.o $(S)/mbslave.o $(LIBSENSORS)
LINK_test_topic          :=
LINK_test_uplink         := $(G)/uplink.o
N := $(B)/center/notify
LINK_test_notify_rate    := $(N)/rate.o
LINK_test_notify_sign    := $(N)/sign.o $(N)/token.o
LINK_test_notify_text    := $(N)/ntext.o
LINK_test_notify_sender  := $(N)/sender.o $(N)/rate.o
LINK_test_notify_channel := $(N)/channel.o $(N)/sign.o
LINK_test_notify_store   := $(N)/store.o
LINK_test_notify_dispatch := $(N)/dispatch.o $(N)/store.o $(N)/ncfg.o $(N)/ntext.o $(N)/sender.o \
                            $(N)/rate.o $(N)/channel.o $(N)/sign.o $(N)/token.o $(LIBSENSORS)
LINK_test_watch          := $(B)/center/watch/watch.o $(G)/payload.o $(ALARM_LINK)
LINK_influx_drive        := $(G)/influx.o
LINK_hold_drive          :=
LINK_bench_core          := $(ALARM_LINK)
$(foreach t,$(UNIT_BIN) $(DRIVERS),$(eval $(t): $(LINK_$(notdir $(t)))))

$(B)/tests/%: tests/unit/%.c $(LIBSHELTER) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(TEST_INC) $(PKG_CFLAGS) -MMD -MP -o $@ $< \
		$(filter %.o,$(LINK_$*)) $(filter %.a,$(LINK_$*)) $(LIBSHELTER) \
		$(PKG_LIBS) $(CHECK_LIBS)

unit: $(UNIT_BIN)
integration: all $(DRIVERS) $(STANDINS)

$(B)/tests/robot-standin: tests/standins/robot.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS) $(MHD_LIBS)

# A fleet of simulated gateways publishing alarm transitions (storms, bench).
$(B)/tests/alarmpub: tests/standins/alarmpub.c $(LIBSENSORS) $(LIBSHELTER) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Ilib -Isensors $(PKG_CFLAGS) -o $@ $< \
		$(LIBSENSORS) $(LIBSHELTER) $(PKG_LIBS)

# make check: the format check first, then unit tests (Check), then
# integration tests against real peers; tests/run.sh prints the closing "N passed, N failed" line.
check: format-check all $(UNIT_BIN) $(DRIVERS) $(STANDINS) $(FUZZ_REPLAY)
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
$(B)/tests/bench_core: tests/bench/bench_core.c $(LINK_bench_core) $(LIBSHELTER) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(TEST_INC) $(PKG_CFLAGS) -o $@ $< \
		$(filter %.o,$(LINK_bench_core)) $(filter %.a,$(LINK_bench_core)) $(LIBSHELTER) $(PKG_LIBS)

bench: all $(B)/tests/bench_core $(STANDINS)
	@tests/bench/run.sh
	@tests/bench/report.sh

# make soak: the fault soak (gateway SIGKILLs, broker restarts, WAL damage,
# a full disk) against a real mosquitto; prints its figures.  SOAK_SCALE=N.
# Then the notifier's first start on a big city's retained state.
soak: all $(STANDINS)
	@tests/soak/run.sh
	@bash tests/soak/notify_city.sh

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
# Every target links common.c and what it needs (cfg, plan, the sensors),
# then its own list FUZZ_LINK_NAME, then lib.
FUZZ_COMMON           := $(G)/plan.o $(CFG_LINK)
FUZZ_LINK_command     := $(G)/command.o $(G)/payload.o
FUZZ_LINK_mb_response := $(G)/mbtcp.o
FUZZ_LINK_mbslave     := $(B)/sensors/sim/mbslave.o
# watch: its parsers (lib/gwmsg.c, lib/topic.c) come with libshelter.a.
FUZZ_LINK_watch       := $(B)/center/watch/watch.o $(B)/center/watch/fleet.o
FUZZ_LINK_notify      := $(N)/token.o $(N)/sign.o $(N)/channel.o $(N)/ntext.o
fuzz_link = $(filter %.o,$^) $(filter %.a,$^) $(PKG_LIBS)
$(foreach t,$(FUZZ_TARGETS),$(eval $(B)/fuzz/replay-$(t) $(B)/fuzz/fuzz-$(t): $(FUZZ_LINK_$(t))))
.SECONDARY: $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz_%.o) $(B)/tests/fuzz/common.o \
	$(B)/tests/fuzz/replay.o

$(B)/fuzz/replay-%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/common.o $(B)/tests/fuzz/replay.o \
		$(FUZZ_COMMON) $(LIBSHELTER)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(fuzz_link)

$(B)/fuzz/fuzz-%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/common.o $(FUZZ_COMMON) $(LIBSHELTER)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $(fuzz_link)

fuzz:
	@scripts/deps.sh fuzz
	$(MAKE) B=build-fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" $(FUZZ_TARGETS:%=build-fuzz/fuzz/fuzz-%)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh build-fuzz/fuzz $(FUZZ_TARGETS)

demo: all $(B)/tests/robot-standin
	@BUILD=$(abspath $(B)) scripts/demo.sh

# The unit goes to $(PREFIX)/lib/systemd/system: /usr/lib/systemd/system for
# PREFIX=/usr (the same directory as /lib/systemd/system on merged-/usr
# Debian 12), /usr/local/lib/systemd/system for the default prefix; systemd
# searches both.  The unit assumes SYSCONFDIR=/etc.  A live install as root
# (no DESTDIR) also creates the service user and gives it read access to
# gateway.conf; a package does that in its postinst.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MODELS_DIR)
	install -m 755 $(B)/shelter-gateway $(B)/shelter-sim $(B)/shelter-notify $(DESTDIR)$(PREFIX)/bin/
	@if [ -x $(B)/shelter-watch ]; then \
		echo "install -m 755 $(B)/shelter-watch $(DESTDIR)$(PREFIX)/bin/"; \
		install -m 755 $(B)/shelter-watch $(DESTDIR)$(PREFIX)/bin/; fi
	install -m 755 $(B)/shelter-report $(DESTDIR)$(PREFIX)/bin/
	install -m 644 sensors/models/*.model $(DESTDIR)$(MODELS_DIR)/
	install -d $(DESTDIR)$(SYSCONFDIR)/shelter-gateway
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/shelter-gateway/gateway.conf ]; then \
		echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/shelter-gateway/gateway.conf"; \
	else install -m 640 conf/gateway.conf $(DESTDIR)$(SYSCONFDIR)/shelter-gateway/gateway.conf; fi
	install -d $(DESTDIR)$(SYSCONFDIR)/shelter-notify
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/shelter-notify/notify.conf ]; then \
		echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/shelter-notify/notify.conf"; \
	else install -m 640 conf/notify.conf $(DESTDIR)$(SYSCONFDIR)/shelter-notify/notify.conf; fi
	install -d $(DESTDIR)$(SYSCONFDIR)/shelter-report
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/shelter-report/report.conf ]; then \
		echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/shelter-report/report.conf"; \
	else install -m 644 conf/report.conf $(DESTDIR)$(SYSCONFDIR)/shelter-report/report.conf; fi
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 644 man/shelter-sim.1 man/shelter-watch.1 man/shelter-report.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/shelter-gateway.conf.5 man/shelter-notify.conf.5 \
		$(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 man/shelter-gateway.8 man/shelter-notify.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(MANDIR)/zh_CN/man5 $(DESTDIR)$(MANDIR)/zh_CN/man8
	install -m 644 man/zh_CN/shelter-gateway.conf.5 $(DESTDIR)$(MANDIR)/zh_CN/man5/
	install -m 644 man/zh_CN/shelter-gateway.8 $(DESTDIR)$(MANDIR)/zh_CN/man8/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d
	sed 's|@BINDIR@|$(PREFIX)/bin|g' systemd/shelter-gateway.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/shelter-gateway.service
	chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/shelter-gateway.service
	install -m 644 systemd/shelter-gateway.sysusers \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/shelter-gateway.conf
	sed 's|@BINDIR@|$(PREFIX)/bin|g' systemd/shelter-notify.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/shelter-notify.service
	chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/shelter-notify.service
	install -m 644 systemd/shelter-notify.sysusers \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/shelter-notify.conf
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
		echo "systemd-sysusers $(PREFIX)/lib/sysusers.d/shelter-gateway.conf"; \
		systemd-sysusers $(PREFIX)/lib/sysusers.d/shelter-gateway.conf && \
		chgrp shelter-gateway $(SYSCONFDIR)/shelter-gateway/gateway.conf && \
		systemd-sysusers $(PREFIX)/lib/sysusers.d/shelter-notify.conf && \
		chgrp shelter-notify $(SYSCONFDIR)/shelter-notify/notify.conf; fi

# make deb [ARCH=arm64]: the Debian packages shelter-gateway and
# shelter-center (debian/), built with debhelper by dpkg-buildpackage from a
# copy of this tree in $(DEB_DIR)/src-ARCH, so the tree itself gets no
# debian/tmp or build products.  debian/rules runs `make install
# DESTDIR=...`: the packages hold what the install target installs.  The
# changelog is written here from VERSION.  The .debs (and .changes) land in
# $(DEB_DIR); lintian checks them (errors fail).  ARCH=arm64 cross-builds
# with Debian's cross toolchain.
DEB_DIR ?= build-deb
DEB_ABS  = $(abspath $(DEB_DIR))
DEB_SRC  = $(DEB_ABS)/src-$(ARCH)
DEB_DATE = $(shell git log -1 --format=%cD 2>/dev/null || date -R)
DEB_JOBS ?= 2
deb:
	@scripts/deps.sh $(DEPS_ARG)
	rm -rf $(DEB_SRC)
	mkdir -p $(DEB_SRC)
	tar -C $(CURDIR) --exclude=./.git --exclude='./build*' -cf - . | tar -C $(DEB_SRC) -xf -
	printf '%s\n' 'shelter-gateway ($(VERSION)) unstable; urgency=medium' '' \
		'  * Built from the source tree by make deb (version from VERSION).' '' \
		' -- shelter-gateway maintainers <shelter-gateway@example.org>  $(DEB_DATE)' \
		>$(DEB_SRC)/debian/changelog
	cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -b -us -uc -a$(ARCH) -j$(DEB_JOBS) >$(DEB_ABS)/build-$(ARCH).log 2>&1 || \
		{ tail -n 40 $(DEB_ABS)/build-$(ARCH).log; exit 1; }
	lintian --fail-on error $(DEB_ABS)/shelter-gateway_$(VERSION)_$(ARCH).changes
	@ls -l $(DEB_ABS)/*_$(VERSION)_$(ARCH).deb

# make check-deb: build both packages, lintian, then install, upgrade (an
# alarm pending in the outbox is sent after it) and purge them in a
# throwaway copy-on-write root (tests/integration/test_deb.sh; make check
# runs it too).
check-deb: all
	@GW_RESULTS=/dev/stdout bash tests/integration/test_deb.sh

# make check-arm64: every program cross-compiled for arm64, then the arm64
# packages with lintian (.ci/run runs it after make check; the first run
# installs the cross toolchain and the :arm64 libraries).
check-arm64:
	$(MAKE) ARCH=arm64 all
	$(MAKE) ARCH=arm64 deb

# Formatting: .clang-format (clang-format 14, Debian's); `make check` fails
# on unformatted C.  Hand-laid tables are fenced with /* clang-format off */.
FORMAT_SRC = $(shell find lib sensors gateway center tests -name '*.[ch]' -not -path '*/corpus/*')
format:
	clang-format -i $(FORMAT_SRC)

format-check: $(DEPS_STAMP)
	@clang-format --dry-run -Werror $(FORMAT_SRC) || \
		{ echo "unformatted C (see above): run make format"; exit 1; }

clean:
	rm -rf $(B) build-sanitize build-fuzz build-arm64 build-deb

-include $(shell find $(B) -name '*.d' 2>/dev/null)
