import { ConnectError } from "@connectrpc/connect";
import { backoffDelay } from "./backoff";
import { errorText, isFatalStreamError } from "./errors";

/** StreamStatus is what the console shows about one server stream. */
export type StreamStatus =
  | { state: "connecting"; attempt: number }
  | { state: "open" }
  | { state: "retrying"; attempt: number; retryAt: number; error: string }
  | { state: "done" }
  | { state: "failed"; error: string };

export interface RunStreamOptions<T> {
  /** Opens the stream; called again (with fresh arguments) on every reconnect. */
  open: (signal: AbortSignal) => AsyncIterable<T>;
  onMessage: (msg: T) => void;
  onStatus?: (s: StreamStatus) => void;
  /** Stops everything for good. */
  signal: AbortSignal;
  /** After the server ends the stream normally: true means finished (e.g. the chat ended), else reconnect. */
  isDone?: () => boolean;
  /** No message (keep-alives included) for this long means a dead connection: reconnect. */
  idleTimeoutMs?: number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/**
 * runStream keeps a server stream open until signal aborts: it reconnects
 * with exponential backoff after errors, after idle connections (the server
 * sends a keep-alive every 20 s, so 45 s of silence means the connection is
 * gone) and after a normal end unless isDone says the stream is finished.
 * Errors that retrying cannot fix (NOT_FOUND, INVALID_ARGUMENT, …) stop it.
 * open is called anew for every attempt, so callers resume from their
 * latest position (WatchChat's after_seq).
 */
export async function runStream<T>(opts: RunStreamOptions<T>): Promise<void> {
  const {
    open,
    onMessage,
    onStatus = () => {},
    signal,
    isDone = () => false,
    idleTimeoutMs = 45000,
    sleep = abortableSleep,
    now = Date.now,
    random = Math.random,
  } = opts;
  let attempt = 0;
  while (!signal.aborted) {
    onStatus({ state: "connecting", attempt });
    const ctrl = new AbortController();
    const stop = () => ctrl.abort();
    signal.addEventListener("abort", stop);
    let idle: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        timedOut = true;
        ctrl.abort();
      }, idleTimeoutMs);
    };
    let lastError = "";
    try {
      armIdle();
      let first = true;
      for await (const msg of open(ctrl.signal)) {
        armIdle();
        if (first) {
          first = false;
          attempt = 0;
          onStatus({ state: "open" });
        }
        onMessage(msg);
      }
      if (isDone()) {
        onStatus({ state: "done" });
        return;
      }
      lastError = "the server closed the stream";
    } catch (err) {
      if (signal.aborted) return;
      if (!timedOut && isFatalStreamError(err)) {
        onStatus({ state: "failed", error: errorText(err) });
        return;
      }
      if (isDone()) {
        onStatus({ state: "done" });
        return;
      }
      lastError = timedOut ? "no keep-alive from the server" : errorText(ConnectError.from(err));
    } finally {
      clearTimeout(idle);
      signal.removeEventListener("abort", stop);
    }
    if (signal.aborted) return;
    attempt++;
    const delay = backoffDelay(attempt, random);
    onStatus({ state: "retrying", attempt, retryAt: now() + delay, error: lastError });
    await sleep(delay, signal);
  }
}
