import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { StreamStatus } from "./stream";
import { runStream } from "./stream";

const noSleep = async () => {};

describe("runStream", () => {
  it("reconnects after an error, resuming from where it was", async () => {
    const ctrl = new AbortController();
    const got: number[] = [];
    const opens: number[] = [];
    const statuses: StreamStatus["state"][] = [];
    let last = 0;
    await runStream<number>({
      open: async function* () {
        const from = last;
        opens.push(from);
        // The "server" sends up to 3 events per connection, then fails.
        for (let i = from + 1; i <= Math.min(from + 3, 7); i++) yield i;
        if (from + 3 < 7) throw new ConnectError("gone", Code.Unavailable);
      },
      onMessage: (n) => {
        got.push(n);
        last = n;
      },
      onStatus: (s) => statuses.push(s.state),
      isDone: () => last === 7,
      signal: ctrl.signal,
      sleep: noSleep,
    });
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(opens).toEqual([0, 3, 6]);
    expect(statuses).toEqual(["connecting", "open", "retrying", "connecting", "open", "retrying", "connecting", "open", "done"]);
  });

  it("stops for good on errors a retry cannot fix", async () => {
    const statuses: StreamStatus[] = [];
    let opens = 0;
    await runStream({
      open: async function* () {
        opens++;
        throw new ConnectError("agent not found", Code.NotFound);
      },
      onMessage: () => {},
      onStatus: (s) => statuses.push(s),
      signal: new AbortController().signal,
      sleep: noSleep,
    });
    expect(opens).toBe(1);
    expect(statuses.at(-1)).toEqual({ state: "failed", error: "agent not found" });
  });

  it("backs off more after each failed attempt and resets once connected", async () => {
    const ctrl = new AbortController();
    const delays: number[] = [];
    let n = 0;
    await runStream({
      open: async function* () {
        n++;
        if (n === 3) yield "hello";
        if (n === 5) ctrl.abort();
        throw new ConnectError("down", Code.Unavailable);
      },
      onMessage: () => {},
      signal: ctrl.signal,
      sleep: async (ms) => void delays.push(ms),
      random: () => 1,
    });
    expect(delays).toEqual([500, 1000, 500, 1000]);
  });

  it("reopens a stream that went silent", async () => {
    const ctrl = new AbortController();
    let n = 0;
    const statuses: StreamStatus[] = [];
    await runStream({
      open: (signal) =>
        (async function* () {
          n++;
          if (n === 2) {
            yield "second";
            ctrl.abort();
            return;
          }
          // Never sends anything: the idle timeout aborts it.
          await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new ConnectError("aborted", Code.Canceled))));
        })(),
      onMessage: () => {},
      onStatus: (s) => statuses.push(s),
      signal: ctrl.signal,
      idleTimeoutMs: 10,
      sleep: noSleep,
    });
    expect(n).toBe(2);
    expect(statuses.find((s) => s.state === "retrying")).toMatchObject({ error: "no keep-alive from the server" });
  });
});
