# The README's two commands are `make run` and `make test`; the rest are
# what they are built from.

.PHONY: run test deps generate check-generated web check-web lint test-go test-web test-browser

# Run the server on its embedded defaults with the demo sites and agent.
run:
	go run ./server/cmd/proactivechat -demo

# Everything CI checks: generated code and web builds are current, protos and
# TypeScript lint, Go vets, and every test passes (Go under the race
# detector, the web clients' unit tests, and the browser tests in Chromium).
test: deps check-generated check-web lint test-go test-web test-browser

test-go:
	go vet ./...
	go test -race -count=1 ./...

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
