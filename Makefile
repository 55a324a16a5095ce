# Lifebuoy build and test entry points. `make test` is what CI runs (.ci/run).

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GOPATH_BIN  := $(firstword $(subst :, ,$(shell go env GOPATH)))/bin
STATICCHECK := $(GOPATH_BIN)/staticcheck
FUZZTIME    ?= 10s
BENCHCOUNT  ?= 6
PLATFORMS   := linux/amd64 linux/arm64 windows/amd64

.PHONY: test deps fmt vet staticcheck unit interop fuzz-short check bench fuzz run agent demo web
.NOTPARALLEL:

# Everything, in the order a failure is cheapest to read. The interop run
# includes every plain test too (no test is excluded by the tag), so the
# plain ones are not run twice; `make unit` is the fast hermetic run alone.
test: deps web fmt vet staticcheck interop fuzz-short

deps:
	bash .ci/deps.sh

# The browser viewer: noVNC from npm (pinned by viewer/web/package-lock.json)
# copied, unmodified and with its licence files, into viewer/web/dist/novnc,
# which the broker embeds (git-ignored; see viewer/web/dist/README).
WEB    := viewer/web
NOVNC  := $(WEB)/node_modules/@novnc/novnc
web:
	@if ! cmp -s $(WEB)/package-lock.json $(WEB)/node_modules/.lock-copy; then \
		echo "==> npm ci in $(WEB)"; \
		(cd $(WEB) && npm ci --ignore-scripts --no-audit --no-fund && cp package-lock.json node_modules/.lock-copy); \
	fi
	rm -rf $(WEB)/dist/novnc
	mkdir -p $(WEB)/dist/novnc/docs
	cp -R $(NOVNC)/core $(NOVNC)/vendor $(NOVNC)/LICENSE.txt $(NOVNC)/AUTHORS $(WEB)/dist/novnc/
	cp $(NOVNC)/docs/LICENSE.* $(WEB)/dist/novnc/docs/
	@test -f $(WEB)/dist/novnc/core/rfb.js && echo "==> noVNC $$(node -p 'require("./$(NOVNC)/package.json").version') in $(WEB)/dist/novnc"

fmt:
	@echo "==> gofmt -l"
	@files="$$(gofmt -l .)"; if [ -n "$$files" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$files"; exit 1; fi

vet:
	go vet ./...
	go vet -tags interop ./...

staticcheck:
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags interop ./...

unit:
	go test -race -count=1 ./...

# Real peers (Xvfb, TigerVNC, gvnccapture, x11vnc, ...), see //go:build interop.
interop:
	go test -race -count=1 -tags interop -timeout 15m ./...

fuzz-short:
	bash .ci/fuzz.sh $(FUZZTIME)

# Cross-build every shipped target without cgo, and vet and compile its
# tests (plain and interop) too, so that test code cannot rot on a platform
# CI does not run; the binaries are discarded.
check:
	@for p in $(PLATFORMS); do \
		env="CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/}"; \
		echo "==> $$env go build ./... && go vet [-tags interop] ./... && go test -c"; \
		env $$env go build -o /dev/null ./...; \
		env $$env go vet ./...; \
		env $$env go vet -tags interop ./...; \
		env $$env go test -run '^$$' -exec true ./... >/dev/null; \
		env $$env go test -tags interop -run '^$$' -exec true ./... >/dev/null; \
	done

bench:
	go test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./... | tee bench.txt

# The long fuzz pass: every target for 5 minutes (override with FUZZTIME=...).
fuzz: FUZZTIME = 5m
fuzz:
	bash .ci/fuzz.sh $(FUZZTIME)

run:
	go run ./cmd/lifebuoy-broker

# The customer's agent, stripped, with the broker and the branding baked in
# so that the customer runs it with no arguments:
#   make agent BROKER=help.example.com FINGERPRINT=<hex from lifebuoy-broker> BRAND="Example Support" BRAND_COLOR=#007a5e
# WINDOWSGUI=1 links winvnc.exe without a console window (for the tray UI).
# DATA=<the broker's data dir> also puts them in DATA/agents, where the
# console offers them for download as winvnc-<code>[.exe].
# SIGN_CERT (a code-signing certificate chain, PEM) and SIGN_KEY (its key:
# a PEM file, or a pkcs11: URI with SIGN_PKCS11_MODULE for a hardware
# token) sign winvnc.exe with Authenticode after the defaults are baked in,
# time-stamped by SIGN_TIMESTAMP (a URL); see cmd/winvnc/sign.sh for the rest.
# The session code may still go into the file name (winvnc-482913.exe):
# the name is not part of the signature. BIN is where the files go.
BROKER      ?=
FINGERPRINT ?=
HTTPS_PORTS ?= 5512
BRAND       ?=
BRAND_COLOR ?=
WINDOWSGUI  ?=
BIN         ?= bin
SIGN_CERT   ?=
SIGN_KEY    ?=
export SIGN_CERT SIGN_KEY SIGN_PKCS11_MODULE SIGN_PASS_FILE SIGN_TIMESTAMP SIGN_TSA_CERT SIGN_TSA_KEY SIGN_NAME SIGN_URL SIGN_CAFILE
AGENT_LDFLAGS := -s -w -X main.defaultBroker=$(BROKER) -X main.defaultFingerprint=$(FINGERPRINT) \
	-X main.defaultHTTPSPorts=$(HTTPS_PORTS) -X 'main.defaultBrand=$(BRAND)' -X 'main.defaultBrandColor=$(BRAND_COLOR)'

agent:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "$(AGENT_LDFLAGS)" -o $(BIN)/winvnc ./cmd/winvnc
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath \
		-ldflags "$(AGENT_LDFLAGS)$(if $(WINDOWSGUI), -H=windowsgui)" -o $(BIN)/winvnc.exe ./cmd/winvnc
	$(if $(SIGN_CERT),bash cmd/winvnc/sign.sh $(BIN)/winvnc.exe)
	@ls -l $(BIN)/winvnc $(BIN)/winvnc.exe
	@if [ -n "$(DATA)" ]; then mkdir -p "$(DATA)/agents" && install -m 0755 $(BIN)/winvnc $(BIN)/winvnc.exe "$(DATA)/agents/" \
		&& echo "==> offered for download by the console: $(DATA)/agents"; fi

# Xvfb with an xterm and a clock, a broker and the agent; prints the code
# and the vncviewer command. Ctrl-C stops everything.
demo:
	bash cmd/winvnc/demo.sh
