// What the widget tells the server about the page, within the server's
// limits (an absolute http(s) URL of at most 2048 bytes, a title of at most
// 512): a page that does not fit is reported shorter, never rejected.

const utf8 = new TextEncoder();

function bytes(s: string): number {
  return utf8.encode(s).length;
}

/** cut shortens s to at most max UTF-8 bytes without splitting a character. */
export function cut(s: string, max: number): string {
  if (bytes(s) <= max) return s;
  let out = "";
  let n = 0;
  for (const ch of s) {
    n += bytes(ch);
    if (n > max) break;
    out += ch;
  }
  return out;
}

export interface Page {
  url: string;
  title: string;
}

export function page(loc: Pick<Location, "href" | "origin" | "pathname" | "protocol">, title: string): Page {
  if (loc.protocol !== "http:" && loc.protocol !== "https:") return { url: "", title: "" };
  let url = loc.href;
  if (bytes(url) > 2048) url = loc.origin + loc.pathname;
  if (bytes(url) > 2048) url = loc.origin + "/";
  return { url, title: cut(title.trim(), 512) };
}
