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
PKGS    := libmodbus sqlite3 libcjson inih libcurl libsystemd
CC      ?= cc
WARN    := -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Werror
CFLAGS  ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DGW_VERSION='"$(VERSION)"' -I$(B) -Igateway -Isensors
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpaho-mqtt3as -lpthread -lm
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

# Every .c under gateway/ and sensors/ except the programs' mains is library code.
LIB_SRC  := $(filter-out gateway/main.c, $(wildcard gateway/*.c sensors/*.c))
SIM_SRC  := $(filter-out sensors/sim/main.c, $(wildcard sensors/sim/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
SIM_OBJ  := $(SIM_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# Test drivers the integration scripts run (not Check suites themselves).
DRIVERS  := $(B)/tests/influx_drive

DEPS_STAMP := $(B)/.deps-ok

.PHONY: all deps check unit integration demo install clean format FORCE
all: $(B)/shelter-gateway $(B)/shelter-sim

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

$(B)/gateway/paths.o: $(B)/config.h

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

$(B)/tests/%: tests/unit/%.c $(B)/libsim.a $(B)/libgw.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -Itests/unit -MMD -MP -o $@ $< \
		$(B)/libsim.a $(B)/libgw.a $(PKG_LIBS) $(CHECK_LIBS)

unit: $(UNIT_BIN)
integration: all $(DRIVERS)

# make check: unit tests (Check) then integration tests against real peers;
# tests/run.sh prints the closing "N passed, N failed" line.
check: all $(UNIT_BIN) $(DRIVERS)
	@tests/run.sh $(UNIT_BIN)

demo: all
	@scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MODELS_DIR)
	install -m 755 $(B)/shelter-gateway $(B)/shelter-sim $(DESTDIR)$(PREFIX)/bin/
	install -m 644 sensors/models/*.model $(DESTDIR)$(MODELS_DIR)/
	install -d $(DESTDIR)$(SYSCONFDIR)/shelter-gateway
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/shelter-gateway/gateway.conf ]; then \
		echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/shelter-gateway/gateway.conf"; \
	else install -m 640 conf/gateway.conf $(DESTDIR)$(SYSCONFDIR)/shelter-gateway/gateway.conf; fi

format:
	clang-format -i gateway/*.[ch] sensors/*.[ch] sensors/sim/*.[ch] tests/unit/*.[ch]

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
