# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-peer clean toolchain models
PEER := .bench-peer

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned, so nothing can pull a CUDA build of it.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	# The simulated people's body model, without warp-lang (see pyproject.toml).
	$(PY) -m pip install --quiet --no-deps anny==0.6.2
	# Compile the numba kernels and build the body model (about two minutes, once per
	# machine) now rather than on a user's first capture.
	$(PY) -m photometric.warmup
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/booth demo --out out

# Debian packages the tests need: avr-gcc and avr-libc (the flash firmware is built for the
# AVR, its codec for the host with gcc), tmux (the app is tested in a real terminal), and
# libsimavr2 with libsimavr-dev's headers unpacked locally (the compiled firmware runs in the
# simavr AVR emulator: firmware_protocol/firmware/sim/install-simavr.sh).
toolchain:
	@if ! command -v avr-gcc >/dev/null || [ ! -f /usr/lib/avr/include/avr/io.h ] \
		|| ! command -v tmux >/dev/null; then \
		echo "installing gcc-avr, avr-libc and tmux (Debian packages)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq gcc-avr avr-libc make gcc tmux; \
	fi
	sh firmware_protocol/firmware/sim/install-simavr.sh

test: $(STAMP) toolchain
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

# The shipped normal-map models, rebuilt from their recipe (learning/models/make.sh: hours of
# CPU; run it again to continue, each time one stretch of training).
models: $(STAMP)
	sh learning/models/make.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The U-Net benchmark's peer, segmentation_models_pytorch, needs torchvision, which does not
# import beside the CPU torch above: it gets an environment of its own (about 5.5 GB).
$(PEER)/.installed:
	test -x $(PEER)/bin/python || $(PYTHON) -m venv $(PEER)
	$(PEER)/bin/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1 \
		segmentation-models-pytorch
	touch $@

bench-peer: $(PEER)/.installed

bench: $(STAMP) bench-peer
	$(PY) benchmarks/photometric.py
	$(PY) benchmarks/flash_link.py
	$(PY) benchmarks/capture.py
	$(PY) benchmarks/tui.py
	$(PY) benchmarks/export.py
	$(PY) benchmarks/people.py
	$(PY) benchmarks/relight.py
	$(PY) benchmarks/learning.py

clean:
	rm -rf out .pytest_cache
