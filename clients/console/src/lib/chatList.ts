import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ChatState } from "../../../gen/proactivechat/v1/chat_pb";
import type { ChatSummary, ListChatsRequestSchema } from "../../../gen/proactivechat/v1/chat_service_pb";

/** ChatFilters are the Transcripts page's filters, as the form holds them. */
export interface ChatFilters {
  /** "" for every site of the agent. */
  siteId: string;
  state: "any" | "active" | "ended";
  /** Days as <input type="date"> gives them (YYYY-MM-DD, local time), "" for none. */
  from: string;
  to: string;
  /** Text the visitor's name or e-mail contains. */
  query: string;
}

export const noFilters: ChatFilters = { siteId: "", state: "any", from: "", to: "", query: "" };

export const PAGE_SIZE = 50;

/** localDayMs is the start of a local day given as YYYY-MM-DD; undefined if it is not one. */
export function localDayMs(day: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
}

/**
 * listChatsRequest turns the filters into a ListChats request. The dates
 * are whole local days: from the start of "from" to the end of "to".
 */
export function listChatsRequest(
  f: ChatFilters,
): MessageInitShape<typeof ListChatsRequestSchema> & { pageToken: string } {
  const from = localDayMs(f.from);
  const toDay = localDayMs(f.to);
  // The start of the day after "to" (a day is not always 24 hours).
  const to = toDay === undefined ? undefined : nextDayMs(toDay);
  return {
    siteId: f.siteId,
    state: f.state === "active" ? ChatState.ACTIVE : f.state === "ended" ? ChatState.ENDED : ChatState.UNSPECIFIED,
    startTimeFrom: from === undefined ? undefined : timestampFromMs(from),
    startTimeTo: to === undefined ? undefined : timestampFromMs(to),
    query: f.query.trim(),
    pageSize: PAGE_SIZE,
    pageToken: "",
  };
}

function nextDayMs(dayMs: number): number {
  const d = new Date(dayMs);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
}

/** rangeError says what is wrong with the dates, "" when nothing is. */
export function rangeError(f: ChatFilters): string {
  const from = localDayMs(f.from);
  const to = localDayMs(f.to);
  return from !== undefined && to !== undefined && to < from ? "The end date is before the start date." : "";
}

/** visitorLabel names the visitor of a listed chat: the name and e-mail they gave, else a short id. */
export function visitorLabel(s: ChatSummary, shortId: (id: string) => string): string {
  const name = s.visitorName.trim();
  const email = s.visitorEmail.trim();
  if (name && email) return `${name} <${email}>`;
  if (name || email) return name || email;
  return `Visitor ${shortId(s.chat?.visitor?.id ?? "")}`;
}

/** downloadText saves text as a file, as a download link would. */
export function downloadText(fileName: string, text: string, doc: Document = document): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const a = doc.createElement("a");
  a.href = url;
  a.download = fileName;
  a.style.display = "none";
  doc.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
