// Storage keeps the visitor's token (and whether the widget is open) per
// site in localStorage, shared by all tabs; in memory when the browser
// refuses storage (privacy modes, sandboxed frames).

export class Storage {
  private memory = new Map<string, string>();
  constructor(private prefix: string) {}

  get(key: string): string {
    try {
      return localStorage.getItem(this.prefix + key) ?? "";
    } catch {
      return this.memory.get(key) ?? "";
    }
  }

  set(key: string, value: string): void {
    try {
      if (value) localStorage.setItem(this.prefix + key, value);
      else localStorage.removeItem(this.prefix + key);
    } catch {
      if (value) this.memory.set(key, value);
      else this.memory.delete(key);
    }
  }
}
