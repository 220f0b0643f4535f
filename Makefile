# Roster: `make run` starts a server on ./data, `make test` checks everything
# CI checks. Both need only Go; `make test` installs what else it needs.

GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
# Debian packages the tests use: Chromium for the portal's browser tests,
# mockupdb + mongomock for the MongoDB wire-protocol stand-in.
APT_PACKAGES := chromium python3-mockupdb python3-mongomock

.PHONY: run test deps lint bench fuzz-smoke

run:
	$(GO) run ./cmd/roster serve

test: deps lint
	$(GO) test -race -count=1 ./...
	@$(MAKE) --no-print-directory fuzz-smoke

# deps installs only what is missing, so a prepared machine pays nothing.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if ! command -v apt-get >/dev/null; then \
			echo "make: cannot install$$missing (no apt-get); the tests that need them will fail" >&2; \
		else \
			sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
			echo "make: installing$$missing"; \
			$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing; \
		fi; \
	fi
	@[ -x "$(STATICCHECK)" ] || { echo "make: installing staticcheck $(STATICCHECK_VERSION)"; \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); }

lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:" >&2; echo "$$out" >&2; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# fuzz-smoke runs every fuzz target of the module (found by name, so new
# ones join by themselves) for FUZZTIME after its seeds and checked-in
# corpus. A failing input is saved under the package's testdata/fuzz:
# commit it with the fix, and it stays a regression test.
# FUZZ_SKIP names targets to leave out while a bug they found is being
# fixed; their seeds still run in every `go test`.
# A run that fails without writing a failing input (the fuzz engine's own
# "context deadline exceeded" when a slow input overruns FUZZTIME on a
# busy machine) is tried once more, then reported as a warning: only a
# saved failing input is a finding.
FUZZTIME ?= 2s
FUZZ_SKIP ?=
fuzz-smoke:
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			case " $(FUZZ_SKIP) " in *" $$fn "*) echo "fuzz $$(dirname $$f) $$fn skipped (FUZZ_SKIP)"; continue;; esac; \
			echo "fuzz $$(dirname $$f) $$fn for $(FUZZTIME)"; \
			ok=0; for try in 1 2; do \
				out=$$($(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$(dirname $$f) 2>&1); rc=$$?; echo "$$out"; \
				if [ $$rc -eq 0 ]; then ok=1; break; fi; \
				if echo "$$out" | grep -q 'Failing input written'; then exit 1; fi; \
			done; \
			[ $$ok -eq 1 ] || echo "fuzz $$(dirname $$f) $$fn: WARNING: the fuzz engine failed twice without a failing input (see above)"; \
		done; \
	done

# bench runs every Go benchmark once over (no tests).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
