import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import type { SignInResponse } from "../../../gen/proactivechat/v1/agent_service_pb";
import { tsMs } from "./time";
import type { KeyValueStorage } from "./agentId";

/**
 * The console's credentials, kept in sessionStorage (this tab only: a reload
 * keeps them, closing the tab forgets them, and other tabs sign in on their
 * own):
 *
 * - the agent's session token, from AgentService.SignIn, sent as
 *   "Authorization: Bearer <token>" on every call;
 * - an admin API key, optional, which the admin page asks for: it is sent
 *   instead of the session on the AdminService calls an agent may not make
 *   (UpdateSite, …), and on no other call.
 *
 * Any call or stream refused with UNAUTHENTICATED because of the session
 * (expired, revoked, signed out elsewhere) ends it: the console goes back
 * to the sign-in screen. A refused admin API key is forgotten instead.
 */

export interface AgentSession {
  agentId: string;
  token: string;
  /** When the server ends the session (ms since the epoch; 0 when unknown). */
  expireMs: number;
}

export interface AuthState {
  session?: AgentSession;
  /** Why the last session ended, for the sign-in screen ("" after signing out). */
  ended: string;
  /** The admin API key for this tab ("" when none). */
  adminKey: string;
  /** Why the last admin API key was dropped. */
  adminKeyRefused: string;
}

const SESSION_KEY = "proactivechat.console.session";
const ADMIN_KEY = "proactivechat.console.adminKey";

export const SESSION_ENDED = "Your session has ended (it expired, or was revoked). Please sign in again.";
export const ADMIN_KEY_REFUSED = "The server refused the admin API key (unknown or revoked). Enter another one.";

/** AdminService calls an agent's session may make (for the sites it serves, or itself); the others need an admin API key. */
const agentReadable = new Set([
  "GetSite",
  "ListSites",
  "ListOnlineVisitors",
  "ListQueue",
  "ListRoutingDecisions",
  "GetAgent",
  "ListCannedReplies",
]);

/** needsAdminKey says whether a procedure takes the admin API key rather than the agent's session. */
export function needsAdminKey(serviceTypeName: string, methodName: string): boolean {
  return serviceTypeName === AdminService.typeName && !agentReadable.has(methodName);
}

export function safeSessionStorage(): KeyValueStorage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
}

function read(storage: KeyValueStorage | undefined, key: string): string {
  try {
    return storage?.getItem(key) ?? "";
  } catch {
    return "";
  }
}

function write(storage: KeyValueStorage | undefined, key: string, value: string): void {
  try {
    if (value) storage?.setItem(key, value);
    else storage?.removeItem(key);
  } catch {
    // storage full or disabled: the credential lasts for this page only
  }
}

function parseSession(json: string, now: number): AgentSession | undefined {
  try {
    const s = JSON.parse(json) as Partial<AgentSession>;
    if (typeof s.agentId !== "string" || typeof s.token !== "string" || !s.agentId || !s.token) return undefined;
    const expireMs = typeof s.expireMs === "number" ? s.expireMs : 0;
    if (expireMs && expireMs <= now) return undefined;
    return { agentId: s.agentId, token: s.token, expireMs };
  } catch {
    return undefined;
  }
}

/** bearerOf returns the token of an "Authorization: Bearer …" header value. */
function bearerOf(header: string | null): string {
  return header?.startsWith("Bearer ") ? header.slice(7) : "";
}

/**
 * Auth holds the console's credentials and is the transport's interceptor
 * (see above). React reads it with useSyncExternalStore (subscribe, state).
 */
export class Auth {
  private current: AuthState;
  private listeners = new Set<() => void>();

  constructor(
    private storage: KeyValueStorage | undefined = safeSessionStorage(),
    now: () => number = Date.now,
  ) {
    const session = parseSession(read(storage, SESSION_KEY), now());
    if (!session) write(storage, SESSION_KEY, "");
    this.current = { session, ended: "", adminKey: read(storage, ADMIN_KEY), adminKeyRefused: "" };
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly state = (): AuthState => this.current;

  private set(patch: Partial<AuthState>): void {
    this.current = { ...this.current, ...patch };
    for (const l of this.listeners) l();
  }

  /** signedIn keeps the session SignIn returned. */
  signedIn(res: SignInResponse): void {
    const session: AgentSession = {
      agentId: res.session?.agentId || res.agent?.id || "",
      token: res.token,
      expireMs: tsMs(res.session?.expireTime) ?? 0,
    };
    write(this.storage, SESSION_KEY, JSON.stringify(session));
    this.set({ session, ended: "" });
  }

  /** end forgets the session; why is shown on the sign-in screen ("" when the agent signed out). */
  end(why = ""): void {
    write(this.storage, SESSION_KEY, "");
    this.set({ session: undefined, ended: why });
  }

  /** setAdminKey keeps (or, with "", forgets) the admin API key of this tab. */
  setAdminKey(key: string, refused = ""): void {
    write(this.storage, ADMIN_KEY, key);
    this.set({ adminKey: key, adminKeyRefused: refused });
  }

  /** refused handles an UNAUTHENTICATED answer to a call made with token. */
  private refused(token: string): void {
    if (!token) return;
    if (token === this.current.session?.token) this.end(SESSION_ENDED);
    else if (token === this.current.adminKey) this.setAdminKey("", ADMIN_KEY_REFUSED);
  }

  /**
   * interceptor sends the credential each call needs (unless the caller set
   * an Authorization header itself) and notices the ones refused, on unary
   * calls and on streams alike.
   */
  readonly interceptor: Interceptor = (next) => async (req) => {
    if (!req.header.has("Authorization") && req.method.name !== "SignIn") {
      const token = needsAdminKey(req.service.typeName, req.method.name) && this.current.adminKey
        ? this.current.adminKey
        : this.current.session?.token;
      if (token) req.header.set("Authorization", `Bearer ${token}`);
    }
    const token = bearerOf(req.header.get("Authorization"));
    const check = (err: unknown) => {
      if (ConnectError.from(err).code === Code.Unauthenticated) this.refused(token);
    };
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
          } catch (err) {
            check(err);
            throw err;
          }
        })(),
      };
    } catch (err) {
      check(err);
      throw err;
    }
  };
}
