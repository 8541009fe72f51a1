export interface TypingTimers {
  now: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
}

const realTimers: TypingTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * TypingNotifier turns keystrokes into throttled SetTyping calls: "typing"
 * at the first keystroke and again at most every repeatMs while typing
 * continues (so the other side can let a lost "stopped" expire), and
 * "stopped" after idleMs without a keystroke, when the box is emptied, or
 * when the message is sent.
 */
export class TypingNotifier {
  private typing = false;
  private lastSent = 0;
  private idle: unknown = undefined;

  constructor(
    private readonly send: (typing: boolean) => void,
    private readonly repeatMs = 3000,
    private readonly idleMs = 4000,
    private readonly timers: TypingTimers = realTimers,
  ) {}

  /** input is called with the message box's text after every change. */
  input(text: string): void {
    if (text.trim() === "") {
      this.stop();
      return;
    }
    const now = this.timers.now();
    if (!this.typing || now - this.lastSent >= this.repeatMs) {
      this.typing = true;
      this.lastSent = now;
      this.send(true);
    }
    this.timers.clearTimeout(this.idle);
    this.idle = this.timers.setTimeout(() => this.stop(), this.idleMs);
  }

  /** stop says "stopped typing" if "typing" was said. */
  stop(): void {
    this.timers.clearTimeout(this.idle);
    this.idle = undefined;
    if (this.typing) {
      this.typing = false;
      this.send(false);
    }
  }

  /** dispose drops the idle timer without sending anything. */
  dispose(): void {
    this.timers.clearTimeout(this.idle);
    this.idle = undefined;
  }
}
