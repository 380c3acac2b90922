# feegate build, test and measurement targets. Run `make help` for the list.

GO        ?= go
FUZZTIME  ?= 30s
BENCHTIME ?= 1s
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help build test fuzz bench lint demo clean

help:
	@echo "build  build bin/feegate"
	@echo "test   go vet, go test -race ./..., then each fuzz target for 3s"
	@echo "fuzz   each fuzz target for FUZZTIME (default $(FUZZTIME))"
	@echo "bench  benchmarks with -benchmem, output in bench.txt"
	@echo "lint   gofmt check, go vet, staticcheck"
	@echo "demo   run gateway and simulated fleet through the main job"

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/feegate ./cmd/feegate

# Packages are tested one at a time (-p 1): several end-to-end suites run simulated fleets
# with real timeouts, and on a 2-core machine two of them at once only add contention.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -p 1 -timeout 30m ./...
	FUZZTIME=3s ./scripts/fuzz.sh

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./... | tee bench.txt

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

demo: build
	./bin/feegate demo $(DEMO_FLAGS)

clean:
	rm -rf bin bench.txt
