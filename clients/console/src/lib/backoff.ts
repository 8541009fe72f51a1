/**
 * backoffDelay is the wait before reconnect attempt n (1, 2, 3, …):
 * exponential from baseMs up to maxMs, with "equal jitter" so that many
 * consoles cut off together do not come back in lockstep.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random, baseMs = 500, maxMs = 15000): number {
  const n = Math.max(1, Math.floor(attempt));
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(n - 1, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}
