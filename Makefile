# The README's two commands are `make run` and `make test`; the rest are
# what they are built from.

.PHONY: run test generate check-generated lint deps

# Run the server on its embedded defaults with the demo site and agent.
run:
	go run ./server/cmd/proactivechat -demo

# Everything CI checks: generated code is current, protos lint, Go vets,
# and every test passes under the race detector.
test: deps check-generated lint
	go vet ./...
	go test -race -count=1 ./...

# Client-side tools pinned in clients/package-lock.json (buf, protoc-gen-es).
deps:
	cd clients && npm ci --no-audit --no-fund --loglevel=error

# Regenerate gen/ and clients/gen/ from proto/.
generate: deps
	clients/node_modules/.bin/buf generate

check-generated:
	scripts/check-generated.sh

lint:
	clients/node_modules/.bin/buf lint
	@test -z "$$(gofmt -l server gen)" || { echo "gofmt needed:"; gofmt -l server gen; exit 1; }
