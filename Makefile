# enginefs — see README.md. Targets that run containers need root.
GO      ?= go
BIN     := bin
FIXTURE := build/fixtures/busybox.tar
PKGS    := busybox-static fuse3 docker-registry diod runc crun hyperfine skopeo python3-docker docker-compose docker.io

.PHONY: all build fixtures deps test test-short fuzz bench up down vet clean

all: build

build:
	$(GO) build -o $(BIN)/enginefs ./cmd/enginefs
	CGO_ENABLED=0 $(GO) build -o $(BIN)/dctl ./cmd/dctl
	$(GO) build -o $(BIN)/enginefs-keeper ./cmd/enginefs-keeper
	$(GO) build -o $(BIN)/enginefs-init ./cmd/enginefs-init

# The busybox image archive the tests and the README use, built from Debian's
# busybox-static by the project's own fixture code.
fixtures: $(FIXTURE)
$(FIXTURE): /bin/busybox $(wildcard tests/fixture/*.go tests/fixture/mkfixture/*.go)
	$(GO) run ./tests/fixture/mkfixture -o $@

# Everything a fresh Debian machine needs (run as root).
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PKGS)
	$(GO) mod download

vet:
	@test -z "$$(gofmt -l .)" || { echo 'gofmt would change:'; gofmt -l .; exit 1; }
	$(GO) vet ./...

# Every test: unit, transports, runtime, image store, and end to end (root).
test: vet fixtures
	$(GO) test -race -count=1 -timeout 30m ./...

test-short: fixtures
	$(GO) test -count=1 -short ./...

# Each fuzz target for FUZZTIME; `make test` runs their seeds as tests.
# FuzzUnpack needs root (owners, device nodes).
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./ctl -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ctl/verbs -run '^$$' -fuzz '^FuzzGrammar$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ctl/verbs -run '^$$' -fuzz '^FuzzParseMount$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ctl/verbs -run '^$$' -fuzz '^FuzzParseBind$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ctl/verbs -run '^$$' -fuzz '^FuzzParsePublish$$' -fuzztime $(FUZZTIME)
	$(GO) test ./hostconfig -run '^$$' -fuzz '^FuzzCheckMount$$' -fuzztime $(FUZZTIME)
	$(GO) test ./hostconfig -run '^$$' -fuzz '^FuzzCheckPorts$$' -fuzztime $(FUZZTIME)
	$(GO) test ./imagestore/imageref -run '^$$' -fuzz '^FuzzReference$$' -fuzztime $(FUZZTIME)
	$(GO) test ./cmd/dctl -run '^$$' -fuzz '^FuzzVolumeFlags$$' -fuzztime $(FUZZTIME)
	$(GO) test ./cmd/dctl -run '^$$' -fuzz '^FuzzPsFilter$$' -fuzztime $(FUZZTIME)
	$(GO) test ./imagestore -run '^$$' -fuzz '^FuzzUnpack$$' -fuzztime $(FUZZTIME)
	$(GO) test ./imagestore -run '^$$' -fuzz '^FuzzArchive$$' -fuzztime $(FUZZTIME)
	$(GO) test ./imagestore -run '^$$' -fuzz '^FuzzArchiveMetadata$$' -fuzztime $(FUZZTIME)
	$(GO) test ./logs -run '^$$' -fuzz '^FuzzJSONFile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./logs -run '^$$' -fuzz '^FuzzJSONReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./detachkeys -run '^$$' -fuzz '^FuzzScanner$$' -fuzztime $(FUZZTIME)
	$(GO) test ./builder -run '^$$' -fuzz '^FuzzDockerfile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./dockerapi -run '^$$' -fuzz '^FuzzCreateRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./dockerapi -run '^$$' -fuzz '^FuzzJSONEndpoints$$' -fuzztime $(FUZZTIME)
	$(GO) test ./fs/ninep -run '^$$' -fuzz '^FuzzServe$$' -fuzztime $(FUZZTIME)
	$(GO) test ./fs/fstar -run '^$$' -fuzz '^FuzzExtract$$' -fuzztime $(FUZZTIME)
	$(GO) test ./netdrv/ipam -run '^$$' -fuzz '^FuzzPoolRange$$' -fuzztime $(FUZZTIME)

bench: build fixtures
	bench/run.sh
	bench/concurrent.sh
	bench/memory.sh
	bench/pull.sh
	bench/network.sh
	bench/docker.sh
	bench/build.sh
	bench/cp.sh

# Start the daemon in the background, load busybox and run a first container.
up: build fixtures
	scripts/up.sh

down:
	scripts/down.sh

clean:
	rm -rf $(BIN) build
