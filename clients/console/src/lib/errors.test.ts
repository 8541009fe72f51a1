import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, errorText, fieldViolations, isFatalStreamError, isRetryable, violationsByField } from "./errors";

function badRequest(violations: { field: string; description: string }[]): ConnectError {
  const detail = create(BadRequestSchema, { fieldViolations: violations } as never);
  // As the Connect client stores details parsed from the wire.
  const err = new ConnectError("invalid settings", Code.InvalidArgument);
  err.details = [{ type: "google.rpc.BadRequest", value: toBinary(BadRequestSchema, detail) }];
  return err;
}

describe("field violations", () => {
  it("are read from the google.rpc.BadRequest detail", () => {
    const err = badRequest([
      { field: "proactive_chat.form_fields[1].key", description: "must match ^[a-z][a-z0-9_]{0,31}$" },
      { field: "proactive_chat.mode", description: "is required when proactive chat is enabled" },
      { field: "proactive_chat.mode", description: "unknown mode 7" },
    ]);
    expect(fieldViolations(err)).toHaveLength(3);
    expect(violationsByField(err)).toEqual({
      "proactive_chat.form_fields[1].key": "must match ^[a-z][a-z0-9_]{0,31}$",
      "proactive_chat.mode": "is required when proactive chat is enabled; unknown mode 7",
    });
  });
  it("are empty for other errors", () => {
    expect(violationsByField(new ConnectError("nope", Code.FailedPrecondition))).toEqual({});
    expect(violationsByField(new Error("x"))).toEqual({});
  });
});

describe("error classes", () => {
  it("retries what a network or server blip causes", () => {
    expect(isRetryable(new ConnectError("x", Code.Unavailable))).toBe(true);
    expect(isRetryable(new TypeError("Failed to fetch"))).toBe(true); // surfaces as UNKNOWN
    expect(isRetryable(new ConnectError("x", Code.DeadlineExceeded))).toBe(true);
    expect(isRetryable(new ConnectError("x", Code.InvalidArgument))).toBe(false);
    expect(isRetryable(new ConnectError("x", Code.FailedPrecondition))).toBe(false);
  });
  it("does not reopen streams for requests that cannot succeed", () => {
    expect(isFatalStreamError(new ConnectError("x", Code.NotFound))).toBe(true);
    expect(isFatalStreamError(new ConnectError("x", Code.Unavailable))).toBe(false);
    expect(isFatalStreamError(new ConnectError("x", Code.Canceled))).toBe(false);
  });
  it("shows the server's message without the code prefix", () => {
    expect(errorText(new ConnectError("chat has ended", Code.FailedPrecondition))).toBe("chat has ended");
    expect(errorText(new ConnectError("Failed to fetch", Code.Unknown))).toBe("Cannot reach the server (Failed to fetch)");
  });
});
