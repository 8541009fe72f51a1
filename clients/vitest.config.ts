// Unit tests of the web clients. The browser tests in e2e/ run under
// node --test against a real server (make test-browser), not here.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["widget/**/*.test.ts", "console/**/*.test.{ts,tsx}"],
  },
});
