/**
 * A short two-tone beep made with WebAudio (no audio files). Browsers only
 * allow sound after the user interacted with the page, so the console calls
 * unlockAudio() on the first click or key press.
 */
let ctx: AudioContext | undefined;

function context(): AudioContext | undefined {
  if (ctx) return ctx;
  const Ctor =
    (globalThis as { AudioContext?: typeof AudioContext }).AudioContext ??
    (globalThis as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Ctor) return undefined;
  try {
    ctx = new Ctor();
  } catch {
    return undefined;
  }
  return ctx;
}

/** unlockAudio resumes the audio context; it resolves to whether sound can play. */
export async function unlockAudio(): Promise<boolean> {
  const c = context();
  if (!c) return false;
  if (c.state === "suspended") {
    try {
      await c.resume();
    } catch {
      return false;
    }
  }
  return c.state === "running";
}

export function audioReady(): boolean {
  return ctx?.state === "running";
}

export function beep(): void {
  const c = context();
  if (!c || c.state !== "running") return;
  const start = c.currentTime + 0.01;
  for (const [i, freq] of [880, 660].entries()) {
    const osc = c.createOscillator();
    const gain = c.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    const t = start + i * 0.18;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.16);
    osc.connect(gain).connect(c.destination);
    osc.start(t);
    osc.stop(t + 0.17);
  }
}
