import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";

/** Milliseconds of an optional Timestamp; undefined when it is unset. */
export function tsMs(ts: Timestamp | undefined): number | undefined {
  return ts ? timestampMs(ts) : undefined;
}

/** Milliseconds of an optional Duration; undefined when it is unset. */
export function durMs(d: Duration | undefined): number | undefined {
  return d ? durationMs(d) : undefined;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/**
 * formatCountdown shows the time left before a deadline as m:ss, rounding up
 * so that "0:00" only appears once the deadline has passed.
 */
export function formatCountdown(remainingMs: number): string {
  if (!Number.isFinite(remainingMs) || remainingMs <= 0) return "0:00";
  const total = Math.ceil(remainingMs / 1000);
  return `${Math.floor(total / 60)}:${pad2(total % 60)}`;
}

/**
 * formatDuration shows an elapsed time (time on site, time waiting) the way
 * an agent reads it at a glance: "42s", "3m 05s", "1h 02m".
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${pad2(m)}m`;
  if (m > 0) return `${m}m ${pad2(s)}s`;
  return `${s}s`;
}

/** formatClock is a local wall-clock time such as 14:05. */
export function formatClock(ms: number | undefined): string {
  if (ms === undefined) return "";
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** formatDateTime is a local date and time such as 2026-03-01 14:05. */
export function formatDateTime(ms: number | undefined): string {
  if (ms === undefined) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatClock(ms)}`;
}

/**
 * The server's clock as estimated from keep-alive messages (server_time), so
 * that countdowns to server deadlines stay right when the agent's computer
 * clock is off.
 */
let serverOffsetMs = 0;

export function noteServerTime(serverMs: number, localMs: number = Date.now()): void {
  serverOffsetMs = serverMs - localMs;
}

export function serverNow(localMs: number = Date.now()): number {
  return localMs + serverOffsetMs;
}
