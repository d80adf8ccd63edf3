# Build flags: the fast linear-algebra backend (OpenBLAS + LAPACKE through cgo) is used when
# pkg-config finds it; otherwise everything builds and runs on pure-Go gonum.
OPENBLAS := $(shell pkg-config --exists openblas lapacke 2>/dev/null && echo yes)
ifeq ($(OPENBLAS),yes)
TAGS := -tags openblas
export CGO_LDFLAGS := $(shell pkg-config --libs openblas lapacke)
endif
GO ?= go
PYTHON ?= python3
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.6.1

.PHONY: test fmtcheck vet lint bench quick quick-run reproduce reproduce-run backend test-slurm test-k8s pytest bench-pytorch

backend:
	@if [ "$(OPENBLAS)" = yes ]; then echo "linear algebra backend: OpenBLAS + LAPACKE (cgo)"; \
	else echo "linear algebra backend: pure Go (install libopenblas-dev liblapacke-dev pkg-config for the fast one)"; fi

test: backend fmtcheck vet
	scripts/setup-backend-test.sh
	$(GO) test $(TAGS) ./...
ifeq ($(OPENBLAS),yes)
	@echo "the pure-Go fallback must build and give the same numbers too:"
	$(GO) vet ./...
	$(GO) test ./...
endif
	@$(MAKE) --no-print-directory pytest

# The PyTorch exporter's tests (scripts/test_export_curvature.py) need Debian's python3-torch and
# python3-numpy; without them they are reported as skipped, not passed.
pytest:
	@if $(PYTHON) -c 'import torch, numpy' 2>/dev/null || /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then \
		$(PYTHON) scripts/test_export_curvature.py && $(PYTHON) scripts/test_bench_pytorch.py; \
	else \
		echo "SKIPPED scripts/test_export_curvature.py: PyTorch/NumPy missing (apt-get install -y python3-torch python3-numpy)"; \
	fi

fmtcheck:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(TAGS) ./...

# A real single-node Slurm cluster on localhost (as root; installs slurm-wlm and munge when
# missing): the quick grid as a 4-task job array into one store, a task cancelled with scancel and
# resubmitted, the table checked against one process's. A few minutes on 2 cores.
test-slurm: backend
	scripts/slurm-local-test.sh

# The Kubernetes Indexed Job's index -> shard mapping, without a cluster (a second).
test-k8s:
	scripts/k8s-shard-test.sh

# Our training kernel beside PyTorch's autograd and hand-written SGD steps, interleaved in one
# run, with the ratios and the FLOP-based rate of each step (needs python3-torch; without it the
# PyTorch side is skipped with a message).
bench-pytorch:
	sh scripts/bench-compare.sh

lint:
	$(GO) run $(STATICCHECK) $(TAGS) ./...

bench: backend
	$(GO) test $(TAGS) -run '^$$' -bench . -benchtime 3x ./...

# The paper's figures and the report, from scratch (finished runs in results/store are reused).
# First the backend check: it installs OpenBLAS where it can, or says what the run will cost
# without it; the sub-make then looks for OpenBLAS anew.
reproduce:
	@scripts/setup-backend.sh reproduce
	@$(MAKE) --no-print-directory reproduce-run

reproduce-run: backend
	$(GO) run $(TAGS) ./experiments/sweep -config experiments/paper.yaml
	$(GO) run $(TAGS) ./experiments/validate -config experiments/validate.yaml
	$(GO) run $(TAGS) ./experiments/report -table results/table.csv -out results -section results/validation.md

# The same figures and report from a small grid, for a first look (results/quick/).
quick:
	@scripts/setup-backend.sh quick
	@$(MAKE) --no-print-directory quick-run

quick-run: backend
	$(GO) run $(TAGS) ./experiments/sweep -config experiments/quick.yaml
	$(GO) run $(TAGS) ./experiments/validate -config experiments/validate-quick.yaml
	$(GO) run $(TAGS) ./experiments/report -table results/quick/table.csv -out results/quick -section results/quick/validation.md
