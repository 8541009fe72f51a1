// h builds DOM elements. Children given as strings become text nodes, so
// text from the server or the visitor is never parsed as markup.

export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === true) el.setAttribute(k, "");
    else if (typeof v === "string") el.setAttribute(k, v);
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
}

/** text replaces el's content with plain text. */
export function text(el: Node, s: string): void {
  el.textContent = s;
}
