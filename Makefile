# xdpcached build. `make` builds the daemon; `make run` and `make test` first
# install what is missing (scripts/install-deps.sh, apt-get on Debian).

CC       ?= cc
BUILD    ?= build
OPT      ?= -O2
SANITIZE ?=
CFLAGS   ?=
CFLAGS   += -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -pthread -Iuser -Ishared $(SANITIZE)
LDFLAGS  += -pthread $(SANITIZE)
LDLIBS   += -lbpf -lelf -lz
# SANITIZE for the ASan+UBSan builds: build-asan (`make test`) and the fuzz
# targets (`make fuzz`).
ASAN_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# Every daemon module but main.c goes into a library that the unit tests link.
DAEMON_SRCS := $(filter-out user/main.c,$(wildcard user/*.c))
DAEMON_OBJS := $(DAEMON_SRCS:user/%.c=$(BUILD)/obj/%.o)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# The load generator mcload (user/loadgen/): every module but main.c goes
# into libmcload.a, which its unit tests (test_loadgen_*) link instead of
# the daemon's library.
LOADGEN_SRCS := $(filter-out user/loadgen/main.c,$(wildcard user/loadgen/*.c))
LOADGEN_OBJS := $(LOADGEN_SRCS:user/loadgen/%.c=$(BUILD)/obj/loadgen/%.o)

# BPF programs: one bpf/<name>.bpf.c each, compiled with clang -target bpf and
# turned into a libbpf skeleton ($(BUILD)/<name>.skel.h) for the daemon.
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.bpf.o)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)

# Server address for `make run`.
RUN_ARGS ?= -l 127.0.0.1 -p 11211 -U 11211 -vv

.PHONY: all deps run test clean bench fuzz install
all: $(BUILD)/xdpcached $(BUILD)/mcload $(BUILD)/store_speed $(UNIT_BINS) $(BPF_OBJS)

# The BPF objects are kept: tests attach xdp_pass.bpf.o with `ip link`.
.SECONDARY: $(BPF_OBJS)

$(BUILD)/obj/%.o: user/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) -I$(BUILD) -MMD -MP -c $< -o $@

# Only the fast-path loader and the tests include the generated skeletons.
$(BUILD)/obj/fastpath.o $(filter-out $(BUILD)/tests/test_loadgen_%,$(UNIT_BINS)): $(BPF_SKELS)

$(BUILD)/libxdpcached.a: $(DAEMON_OBJS)
	ar rcs $@ $^

$(BUILD)/xdpcached: $(BUILD)/obj/main.o $(BUILD)/libxdpcached.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The store API's speed alone (docs/store.md, "Speed").
$(BUILD)/store_speed: bench/store_speed.c $(BUILD)/libxdpcached.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# What the unit tests and the fuzz targets share: a server without sockets
# (test_server.c), and the store checked against a model (store_model.c).
TEST_SUPPORT := tests/support/test_server.c tests/support/store_model.c
TEST_SUPPORT_OBJ := $(TEST_SUPPORT:tests/support/%.c=$(BUILD)/obj/%.o)

$(TEST_SUPPORT_OBJ): $(BUILD)/obj/%.o: tests/support/%.c | $(BUILD)/obj
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(TEST_SUPPORT_OBJ) $(BUILD)/libxdpcached.a | $(BUILD)/tests
	$(CC) $(CFLAGS) -I$(BUILD) -Itests/support -o $@ $< $(TEST_SUPPORT_OBJ) $(BUILD)/libxdpcached.a $(LDFLAGS) $(LDLIBS) -lcmocka

# test_conn scripts what the connection's socket takes (its own sendmsg).
$(BUILD)/tests/test_conn: LDFLAGS += -Wl,--wrap=sendmsg

$(BUILD)/obj/loadgen/%.o: user/loadgen/%.c | $(BUILD)/obj/loadgen
	$(CC) $(CFLAGS) -Iuser/loadgen -MMD -MP -c $< -o $@

$(BUILD)/libmcload.a: $(LOADGEN_OBJS)
	ar rcs $@ $^

$(BUILD)/mcload: $(BUILD)/obj/loadgen/main.o $(BUILD)/libmcload.a
	$(CC) $(LDFLAGS) -o $@ $^ -lm

# The more specific pattern wins over $(BUILD)/tests/% for these.
$(BUILD)/tests/test_loadgen_%: tests/unit/test_loadgen_%.c $(BUILD)/libmcload.a | $(BUILD)/tests
	$(CC) $(CFLAGS) -Iuser/loadgen -o $@ $< $(BUILD)/libmcload.a $(LDFLAGS) -lm -lcmocka

$(BUILD)/vmlinux.h: | $(BUILD)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@

# -mcpu=v3 (kernel 5.1+): 32-bit registers and jumps, so that a bound checked
# on a 32-bit value holds for the register that is then used.
$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h shared/*.h) $(BUILD)/vmlinux.h | $(BUILD)
	clang -O2 -g -Wall -Wextra -Werror -mcpu=v3 -target bpf -D__TARGET_ARCH_x86 -I$(BUILD) -Ishared -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	bpftool gen skeleton $< > $@

$(BUILD) $(BUILD)/obj $(BUILD)/obj/loadgen $(BUILD)/obj/fuzz $(BUILD)/tests:
	mkdir -p $@

# libFuzzer targets (tests/fuzz/, run by tests/run-all.sh). Like the ASan
# build of `make test`, `make fuzz` is this Makefile again with another
# BUILD: clang, ASan+UBSan and libFuzzer's coverage instrumentation
# (-fsanitize=fuzzer-no-link), so that the library and the support objects
# come from the rules above. Only the targets' own sources (fuzz_*.c and the
# harness) and their link with libFuzzer (-fsanitize=fuzzer) are here.
FUZZ_BUILD   ?= $(BUILD)-fuzz
FUZZ_NAMES   := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(addprefix $(BUILD)/,$(FUZZ_NAMES))
FUZZ_OBJS    := $(patsubst tests/fuzz/%.c,$(BUILD)/obj/fuzz/%.o,$(wildcard tests/fuzz/*.c))
# fuzz_store drives the store alone, against the model; the others feed
# the protocol parsers alone through the harness.
FUZZ_STORE   := $(BUILD)/fuzz_store

fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 SANITIZE="$(ASAN_SANITIZE) -fsanitize=fuzzer-no-link" \
	    $(addprefix $(FUZZ_BUILD)/,$(FUZZ_NAMES))

$(FUZZ_OBJS): $(BUILD)/obj/fuzz/%.o: tests/fuzz/%.c | $(BUILD)/obj/fuzz
	$(CC) $(CFLAGS) -Itests/support -MMD -MP -c $< -o $@

# The library goes last on the command line, after every object that uses it.
$(FUZZ_TARGETS): $(BUILD)/%: $(BUILD)/obj/fuzz/%.o $(BUILD)/libxdpcached.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(BUILD)/libxdpcached.a $(LDFLAGS) $(LDLIBS)

$(filter-out $(FUZZ_STORE),$(FUZZ_TARGETS)): $(BUILD)/obj/fuzz/harness.o
$(FUZZ_STORE): $(BUILD)/obj/store_model.o

deps:
	scripts/install-deps.sh

run: deps
	$(MAKE) $(BUILD)/xdpcached
	@if [ "$$(id -u)" -eq 0 ] && ! printf '%s\n' "$(RUN_ARGS)" | grep -q -- '--xdp'; then \
	    echo; echo "In another terminal, watch XDP answer a get:  scripts/xdp-demo.sh"; echo; \
	    set -x; exec $(BUILD)/xdpcached $(RUN_ARGS) --xdp-iface lo --xdp-mode generic; \
	else \
	    [ "$$(id -u)" -eq 0 ] || echo "(not root: no XDP fast path; the daemon answers every request)"; \
	    set -x; exec $(BUILD)/xdpcached $(RUN_ARGS); \
	fi

# The whole suite: unit tests (plain and ASan+UBSan), protocol and end-to-end
# tests, the differential test against Debian's memcached, memccapable.
test: deps
	$(MAKE) all
	$(MAKE) BUILD=build-asan OPT=-O1 SANITIZE="$(ASAN_SANITIZE)" all
	$(MAKE) fuzz
	tests/run-all.sh

# The benchmark (docs/benchmarks.md): needs root; about 12 minutes; writes
# bench/results/<timestamp>.{json,md,png} and prints the table.
bench: deps
	$(MAKE) all
	/usr/bin/python3 bench/run.py --build $(BUILD)

# `make install` (PREFIX, DESTDIR): the daemon, its man page, the systemd
# unit and its config file (/etc/xdpcached.conf, kept when it exists: an
# operator's edits survive a reinstall). `systemctl daemon-reload` and
# `systemctl enable --now xdpcached` are left to the operator.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= /etc/systemd/system

install: $(BUILD)/xdpcached
	install -D -m 755 $(BUILD)/xdpcached $(DESTDIR)$(BINDIR)/xdpcached
	install -D -m 644 dist/xdpcached.1 $(DESTDIR)$(MANDIR)/man1/xdpcached.1
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    dist/xdpcached.service.in > $(DESTDIR)$(UNITDIR)/xdpcached.service
	chmod 644 $(DESTDIR)$(UNITDIR)/xdpcached.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/xdpcached.conf ] || \
	    install -D -m 644 dist/xdpcached.conf $(DESTDIR)$(SYSCONFDIR)/xdpcached.conf

clean:
	rm -rf build build-asan build-fuzz

-include $(DAEMON_OBJS:.o=.d) $(BUILD)/obj/main.d $(TEST_SUPPORT_OBJ:.o=.d) $(LOADGEN_OBJS:.o=.d) $(BUILD)/obj/loadgen/main.d
-include $(FUZZ_OBJS:.o=.d)
