# airlock -- the two commands of the README, plus the pieces they are made of.
#   make demo    install missing build dependencies, build, run the demo agent
#   make check   install missing dependencies, build, run every test
#                (unit + integration as root and rootless, then again under ASan/UBSan)

BUILD     ?= build
ASAN      ?= build-asan
PYTHON    ?= /usr/bin/python3
SHELL     := /bin/bash

# Debian packages: to build, to test, to benchmark.
BUILD_DEPS := gcc meson ninja-build pkg-config libseccomp-dev libfyaml-dev libsodium-dev zlib1g-dev \
              librelp-dev libgnutls28-dev libcmocka-dev libc-ares-dev libnftables-dev
TEST_DEPS  := python3 python3-pytest rsyslog rsyslog-relp rsyslog-gnutls gnutls-bin \
              iproute2 util-linux passwd git procps busybox-static file time curl openssl \
              nodejs python3-pip podman docker.io containerd runsc mmdebstrap uidmap
BENCH_DEPS := bubblewrap crun runc runsc firejail hyperfine busybox-static
FUZZ_DEPS  := clang libclang-rt-14-dev

.PHONY: all build install deps test-deps bench-deps demo check unit integration asan bench fuzz fuzz-smoke build-fuzz-deps clean

all: build

# Install whatever is missing (apt-get, as root). Nothing is installed when
# everything is already there, so this is cheap on a prepared machine.
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "need root to install: $$missing" >&2; exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_DEPS))

test-deps: deps
	$(call apt_install,$(TEST_DEPS))

bench-deps: deps
	$(call apt_install,$(BENCH_DEPS))

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@bash demo/run-demo.sh $(BUILD)/src/cli/airlock

unit: build
	meson test -C $(BUILD) --print-errorlogs

integration: build test-deps
	BUILD_DIR=$(CURDIR)/$(BUILD) bash tests/run-integration.sh

$(ASAN)/build.ninja:
	meson setup $(ASAN) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

asan: deps test-deps $(ASAN)/build.ninja
	ninja -C $(ASAN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN) --print-errorlogs
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		BUILD_DIR=$(CURDIR)/$(ASAN) bash tests/run-integration.sh

check: build test-deps unit integration asan fuzz-smoke
	@echo "make check: all suites passed"

bench: build bench-deps
	bash bench/startup.sh

# libFuzzer targets (clang): the spec loader, the event log reader/verifier, an OCI
# bundle's config.json, and
# the egress proxy's HTTP, SOCKS5, TLS ClientHello and DNS parsers.
# `make fuzz FUZZ_SECONDS=600` for a real session; check runs a short smoke so
# the targets keep building and the seed corpora keep passing. New inputs go
# to build-fuzz/, never into the committed corpora; crashes land there too.
FUZZ_SECONDS ?= 15
# the small parsers (the proxy's four, the exfil search, the session protocol) get
# less each in the smoke
NET_FUZZ_SECONDS ?= 8
build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz -Dfuzz=true --buildtype=debug

fuzz fuzz-smoke: deps build-fuzz-deps build-fuzz/build.ninja
	ninja -C build-fuzz tests/fuzz/fuzz_spec tests/fuzz/fuzz_verify tests/fuzz/fuzz_image \
		tests/fuzz/fuzz_imagefile
	mkdir -p build-fuzz/corpus-spec build-fuzz/corpus-verify build-fuzz/corpus-image \
		build-fuzz/corpus-imagefile build-fuzz/artifacts
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp \
		build-fuzz/tests/fuzz/fuzz_spec -dict=tests/fuzz/spec.dict -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 \
		build-fuzz/corpus-spec tests/fuzz/corpus/spec
	build-fuzz/tests/fuzz/fuzz_verify -dict=tests/fuzz/verify.dict -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 \
		build-fuzz/corpus-verify tests/fuzz/corpus/verify
	build-fuzz/tests/fuzz/fuzz_image -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 \
		build-fuzz/corpus-image tests/fuzz/corpus/image
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp \
		build-fuzz/tests/fuzz/fuzz_imagefile -max_total_time=$(NET_FUZZ_SECONDS) \
		-artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 \
		build-fuzz/corpus-imagefile tests/fuzz/corpus/imagefile
	ninja -C build-fuzz tests/fuzz/fuzz_oci_config
	mkdir -p build-fuzz/corpus-oci_config
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp \
		build-fuzz/tests/fuzz/fuzz_oci_config -dict=tests/fuzz/oci.dict -max_total_time=$(NET_FUZZ_SECONDS) \
		-artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 \
		build-fuzz/corpus-oci_config tests/fuzz/corpus/oci_config
	ninja -C build-fuzz tests/fuzz/fuzz_http tests/fuzz/fuzz_socks tests/fuzz/fuzz_sni tests/fuzz/fuzz_dns \
		tests/fuzz/fuzz_exfil tests/fuzz/fuzz_exfil_http tests/fuzz/fuzz_session_proto tests/fuzz/fuzz_gvisor_wire
	for t in http socks sni dns exfil exfil_http session_proto gvisor_wire; do \
		mkdir -p build-fuzz/corpus-$$t && \
		build-fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(NET_FUZZ_SECONDS) \
			-artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 \
			build-fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# airlock and the airlock-runc symlink (the OCI runtime face, docs/oci.md) into
# meson's prefix (/usr/local by default; DESTDIR honoured).
install: build
	meson install -C $(BUILD)

build-fuzz-deps:
	$(call apt_install,$(FUZZ_DEPS))

clean:
	rm -rf $(BUILD) $(ASAN) build-fuzz
