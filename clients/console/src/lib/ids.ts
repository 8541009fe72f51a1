/**
 * newIdempotencyKey returns 128 random bits as hex. It uses getRandomValues,
 * which (unlike randomUUID) also exists on plain-http origins.
 */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return "k" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
