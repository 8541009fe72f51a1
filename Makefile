# The README's two commands are `make run` and `make test`; the rest are
# what they are built from.

.PHONY: run test deps generate check-generated web check-web lint test-go fuzz test-web test-browser

# Run the server on its embedded defaults with the demo sites and agent.
run:
	go run ./server/cmd/proactivechat -demo

# Everything CI checks: generated code and web builds are current, protos and
# TypeScript lint, Go vets, and every test passes (Go under the race
# detector, a short run of every fuzz target, the web clients' unit tests,
# and the browser tests in Chromium).
test: deps check-generated check-web lint test-go fuzz test-web test-browser
test: FUZZTIME = 5s

test-go:
	go vet ./...
	go test -race -count=1 ./...

# Fuzz each target for FUZZTIME (go test -fuzz takes one target at a time),
# e.g. `make fuzz FUZZTIME=5m`. A failing input is saved under the
# package's testdata/fuzz/ and from then on runs with the package's tests.
FUZZTIME ?= 10s

fuzz:
	$(call fuzz-one,./server/domain,FuzzCheckForm)
	$(call fuzz-one,./server/domain,FuzzPageAllowed)
	$(call fuzz-one,./server/domain,FuzzCreateSite)
	$(call fuzz-one,./server/domain,FuzzCreateAgent)
	$(call fuzz-one,./server/domain,FuzzRecordPageView)
	$(call fuzz-one,./server/domain,FuzzStartVisitorSession)
	$(call fuzz-one,./server/domain,FuzzSendMessage)
	$(call fuzz-one,./server/domain,FuzzSubmitForm)
	$(call fuzz-one,./server/domain,FuzzAuthenticate)
	$(call fuzz-one,./server/domain,FuzzIdentifyVisitor)
	$(call fuzz-one,./server/rpc,FuzzBearerToken)
	$(call fuzz-one,./server/app,FuzzHTTPEdge)
	$(call fuzz-one,./server/protoconv,FuzzStoredRecords)

# $(call fuzz-one,package,target) fuzzes one target. Minimizing a new input
# is capped at 1s (not 60s), or the targets that write to bolt spend a
# short run minimizing. Go 1.26 can fail a run that found nothing with a
# bare "context deadline exceeded" as FUZZTIME runs out (a race in its
# coordinator, go.dev/issue/75804, fixed in Go 1.27): that alone is
# reported and passed over; any other failure fails the build.
define fuzz-one
	@echo "go test -run '^$$' -fuzz '^$(2)$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s $(1)"
	@log=$$(mktemp); \
	{ go test -run '^$$' -fuzz '^$(2)$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s $(1); echo $$? >$$log.rc; } 2>&1 | tee $$log; \
	rc=$$(cat $$log.rc); \
	if [ "$$rc" -ne 0 ] && grep -A1 '^--- FAIL: $(2) ' $$log | grep -qx '    context deadline exceeded' && \
		! grep -q 'Failing input written' $$log; then \
		echo "fuzz: $(2) found nothing; its failure is Go's fuzztime race (go.dev/issue/75804)"; rc=0; \
	fi; \
	rm -f $$log $$log.rc; exit $$rc
endef

test-web:
	cd clients && npx --no-install vitest run

test-browser:
	cd clients && node --test --test-concurrency=1 e2e/

# npm packages pinned in clients/package-lock.json (buf, protoc-gen-es, vite,
# vitest, playwright-core, …) and Debian's chromium for the browser tests.
deps:
	cd clients && npm ci --no-audit --no-fund --loglevel=error
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Regenerate gen/ and clients/gen/ from proto/.
generate: deps
	clients/node_modules/.bin/buf generate

check-generated:
	scripts/check-generated.sh

# Rebuild the widget and the agent console into server/web/dist (embedded).
web:
	cd clients && npx --no-install vite build --config widget/vite.config.ts && npx --no-install vite build --config console/vite.config.ts

check-web:
	scripts/check-web-build.sh

lint:
	clients/node_modules/.bin/buf lint
	@test -z "$$(gofmt -l server gen bench 2>/dev/null)" || { echo "gofmt needed:"; gofmt -l server gen bench; exit 1; }
	cd clients && npx --no-install tsc --noEmit -p .
