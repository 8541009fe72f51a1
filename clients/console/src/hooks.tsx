import { createClient } from "@connectrpc/connect";
import { useTransport } from "@connectrpc/connect-query";
import { createContext, useContext, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import type { ReactNode } from "react";
import { AgentService } from "../../gen/proactivechat/v1/agent_service_pb";
import { ChatService } from "../../gen/proactivechat/v1/chat_service_pb";
import type { Auth, AuthState } from "./lib/auth";

/**
 * useClients returns plain Connect clients on the TransportProvider's
 * transport, for what React Query does not model: server streams.
 */
export function useClients() {
  const transport = useTransport();
  return useMemo(
    () => ({ agent: createClient(AgentService, transport), chat: createClient(ChatService, transport) }),
    [transport],
  );
}
export type Clients = ReturnType<typeof useClients>;

const NowContext = createContext<number>(Date.now());

/**
 * NowProvider ticks once a second. Only components that call useNow (clocks,
 * countdowns) re-render on the tick; the rest of the tree does not.
 */
export function NowProvider({ children, intervalMs = 1000 }: { children: ReactNode; intervalMs?: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return <NowContext.Provider value={now}>{children}</NowContext.Provider>;
}

export function useNow(): number {
  return useContext(NowContext);
}

export type Route = "console" | "transcripts" | "messages" | "admin" | "supervise";

function routeFromHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, "");
  return h === "admin" || h === "transcripts" || h === "messages" || h === "supervise" ? h : "console";
}

/** useHashRoute is the console's tiny router: #/, #/transcripts, #/messages, #/supervise, #/admin. */
export function useHashRoute(): Route {
  const [route, setRoute] = useState(() => routeFromHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(routeFromHash(window.location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

const AuthContext = createContext<Auth | undefined>(undefined);

/** AuthProvider gives the tree the console's credentials (the same Auth the transport's interceptor reads). */
export function AuthProvider({ auth, children }: { auth: Auth; children: ReactNode }) {
  return <AuthContext.Provider value={auth}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth needs an AuthProvider");
  return auth;
}

/** useAuthState re-renders on sign-in, sign-out and admin key changes. */
export function useAuthState(): AuthState {
  const auth = useAuth();
  return useSyncExternalStore(auth.subscribe, auth.state);
}
