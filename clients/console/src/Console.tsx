import { useQuery } from "@connectrpc/connect-query";
import { useCallback, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from "react";
import { AdminService } from "../../gen/proactivechat/v1/admin_service_pb";
import type { Chat } from "../../gen/proactivechat/v1/chat_pb";
import type { ChatRequest } from "../../gen/proactivechat/v1/engagement_pb";
import type { Site } from "../../gen/proactivechat/v1/site_pb";
import { AdminPage } from "./components/AdminPage";
import { AlertsBar } from "./components/Alerts";
import { ChatArea, ChatWatcher } from "./components/Chats";
import { Header } from "./components/Header";
import { PresencePanel } from "./components/Presence";
import { QueuePanel } from "./components/Queue";
import { SupervisePage } from "./components/Supervise";
import { MessagesPage, useNewMessageCount } from "./components/Messages";
import { TranscriptsPage } from "./components/Transcripts";
import { NowProvider, useClients, useHashRoute } from "./hooks";
import { audioReady, beep, unlockAudio } from "./lib/beep";
import type { StreamStatus } from "./lib/stream";
import { runStream } from "./lib/stream";
import { noteServerTime, tsMs } from "./lib/time";
import { agentReducer, initialAgentView } from "./state/agent";
import { chatsReducer, initialChatsView, totalUnread } from "./state/chats";
import type { ChatsView } from "./state/chats";
import { initialPresenceView, presenceReducer } from "./state/presence";

export interface ConsoleProps {
  agentId: string;
  /** Ends the session: back to the sign-in screen. */
  onSignOut: () => void;
}

/** ConsoleContext is what the panels need from the console. */
export interface ConsoleApi {
  agentId: string;
  siteName: (siteId: string) => string;
  /** The site as ListSites returned it (for its form fields and timeouts). */
  site: (siteId: string) => Site | undefined;
  /** Opens a chat tab (and shows it). */
  openChat: (chatId: string, chat?: Chat) => void;
  /** Chat requests seen on this console, by id: form data for chats that came from the queue. */
  request: (chatRequestId: string) => ChatRequest | undefined;
}

const REBEEP_MS = 8000;

/**
 * Console is the agent's screen. It owns the two agent streams (WatchAgent,
 * WatchPresence) and one WatchChat per open chat, so they keep running while
 * the agent looks at transcripts or the admin section.
 */
export function Console({ agentId, onSignOut }: ConsoleProps) {
  const clients = useClients();
  const route = useHashRoute();
  const [agentView, dispatchAgent] = useReducer(agentReducer, initialAgentView);
  const [presence, dispatchPresence] = useReducer(presenceReducer, initialPresenceView);
  const [chats, dispatchChats] = useReducer(chatsReducer, initialChatsView);
  const [agentStream, setAgentStream] = useState<StreamStatus>({ state: "connecting", attempt: 0 });
  const [presenceStream, setPresenceStream] = useState<StreamStatus>({ state: "connecting", attempt: 0 });
  const [chatStreams, setChatStreams] = useState<Record<string, StreamStatus>>({});
  const [soundOn, setSoundOn] = useState(true);
  const [soundReady, setSoundReady] = useState(audioReady);

  const sites = useQuery(AdminService.method.listSites, {}, { staleTime: 60_000 });
  const siteMap = useMemo(() => new Map((sites.data?.sites ?? []).map((s) => [s.id, s])), [sites.data]);

  // WatchAgent: the agent, its queue and its alerts.
  useEffect(() => {
    const ctrl = new AbortController();
    void runStream({
      open: (signal) => clients.agent.watchAgent({ agentId }, { signal }),
      onMessage: (msg) => {
        if (msg.event.case === "keepAlive" && msg.event.value.serverTime) noteServerTime(tsMs(msg.event.value.serverTime)!);
        if (msg.event.case === "whisper") {
          const w = msg.event.value;
          dispatchChats({ type: "whispers", chatId: w.chatId, whispers: [w] });
          return;
        }
        dispatchAgent({ type: "event", event: msg });
      },
      onStatus: setAgentStream,
      signal: ctrl.signal,
    });
    return () => ctrl.abort();
  }, [clients, agentId]);

  // WatchPresence: who is on the agent's sites.
  useEffect(() => {
    const ctrl = new AbortController();
    void runStream({
      open: (signal) => clients.agent.watchPresence({ agentId }, { signal }),
      onMessage: (msg) => {
        if (msg.event.case === "keepAlive" && msg.event.value.serverTime) noteServerTime(tsMs(msg.event.value.serverTime)!);
        dispatchPresence({ type: "event", event: msg, now: Date.now() });
      },
      onStatus: setPresenceStream,
      signal: ctrl.signal,
    });
    return () => ctrl.abort();
  }, [clients, agentId]);

  // Chats the agent is in (after a reload too) get a tab.
  const activeChatIds = agentView.agent?.activeChatIds;
  useEffect(() => {
    if (activeChatIds?.length) dispatchChats({ type: "sync", chatIds: activeChatIds });
  }, [activeChatIds]);

  // Chat requests seen here, for the form data shown in the chat they became.
  const requests = useRef(new Map<string, ChatRequest>());
  useEffect(() => {
    for (const r of agentView.queue) requests.current.set(r.id, r);
    for (const a of agentView.alerts) if (a.chatRequest) requests.current.set(a.chatRequest.id, a.chatRequest);
  }, [agentView.queue, agentView.alerts]);

  const chatsRef = useRef<ChatsView>(chats);
  useLayoutEffect(() => {
    chatsRef.current = chats;
  }, [chats]);
  const setChatStream = useCallback(
    (id: string, s: StreamStatus) => setChatStreams((m) => ({ ...m, [id]: s })),
    [],
  );

  const api: ConsoleApi = useMemo(
    () => ({
      agentId,
      siteName: (id) => siteMap.get(id)?.name || id,
      site: (id) => siteMap.get(id),
      openChat: (chatId, chat) => dispatchChats({ type: "open", chatId, chat, activate: true }),
      request: (id) => requests.current.get(id),
    }),
    [agentId, siteMap],
  );

  // Sound: browsers allow it after the first click or key press. Whether it
  // was allowed when the current click or key press began (what the sound
  // toggle showed then) is kept for the toggle: its click comes after its
  // pointerdown (or keydown) allowed sound, and must not turn sound off.
  const soundReadyNow = useRef(soundReady);
  useLayoutEffect(() => {
    soundReadyNow.current = soundReady;
  }, [soundReady]);
  const soundReadyAtGesture = useRef(soundReady);
  useEffect(() => {
    const unlock = () => {
      soundReadyAtGesture.current = soundReadyNow.current;
      void unlockAudio().then(setSoundReady);
    };
    window.addEventListener("pointerdown", unlock, true);
    window.addEventListener("keydown", unlock, true);
    return () => {
      window.removeEventListener("pointerdown", unlock, true);
      window.removeEventListener("keydown", unlock, true);
    };
  }, []);
  const toggleSound = useCallback(() => {
    if (!soundOn) setSoundOn(true);
    // "Allow sound" (sound on but not allowed yet when the click began): the
    // click allows it (the listener above did) and leaves it on.
    else if (soundReadyAtGesture.current) setSoundOn(false);
    else void unlockAudio().then(setSoundReady);
  }, [soundOn]);
  const alertIds = agentView.alerts.map((a) => a.chatRequest?.id ?? "").join(",");
  const beeped = useRef(new Set<string>());
  useEffect(() => {
    if (!alertIds || !soundOn) return;
    const ids = alertIds.split(",");
    if (ids.some((id) => !beeped.current.has(id))) beep();
    ids.forEach((id) => beeped.current.add(id));
    const t = setInterval(beep, REBEEP_MS);
    return () => clearInterval(t);
  }, [alertIds, soundOn]);

  // The page title shows pending alerts and unread messages in the browser tab.
  const unread = totalUnread(chats);
  const newMessages = useNewMessageCount(sites.data?.sites ?? []);
  const alertCount = agentView.alerts.length;
  useEffect(() => {
    const parts = [];
    if (alertCount) parts.push(`🔔 ${alertCount} waiting`);
    if (unread) parts.push(`(${unread})`);
    document.title = [...parts, "Agent console — Proactive Chat"].join(" ");
  }, [alertCount, unread]);

  const fatal = agentStream.state === "failed" ? agentStream.error : undefined;

  return (
    <NowProvider>
      <div className="app">
        <Header
          agentId={agentId}
          agent={agentView.agent}
          onAgent={(agent) => dispatchAgent({ type: "agent", agent })}
          streams={{ agent: agentStream, presence: presenceStream }}
          soundOn={soundOn}
          onToggleSound={toggleSound}
          soundReady={soundReady}
          onSignOut={onSignOut}
          route={route}
          unread={unread}
          newMessages={newMessages}
        />
        {fatal ? (
          <main className="page">
            <div className="card error-card" role="alert" data-testid="agent-error">
              <h2>The console cannot start</h2>
              <p>
                {fatal}. (Signed in as <code>{agentId}</code>.)
              </p>
              <button type="button" onClick={onSignOut}>
                Sign out
              </button>
            </div>
          </main>
        ) : (
          <>
            <AlertsBar
              api={api}
              alerts={agentView.alerts}
              withdrawn={agentView.withdrawn}
              onAnswered={(id) => dispatchAgent({ type: "answered", chatRequestId: id })}
              onDismissWithdrawn={() => dispatchAgent({ type: "dismissWithdrawn" })}
            />
            <main className="page" id="main">
              {route === "console" && (
                <div className="workspace">
                  <div className="side">
                    <PresencePanel api={api} presence={presence} chats={chats} stream={presenceStream} agent={agentView} />
                    <QueuePanel api={api} queue={agentView.queue} ready={!!agentView.agent} agent={agentView} />
                  </div>
                  <ChatArea api={api} chats={chats} dispatch={dispatchChats} streams={chatStreams} presence={presence} />
                </div>
              )}
              {route === "transcripts" && (
                <TranscriptsPage api={api} sites={sites.data?.sites ?? []} openTabs={chats.tabs.map((t) => t.id)} />
              )}
              {route === "messages" && <MessagesPage sites={sites.data?.sites ?? []} />}
              {route === "admin" && <AdminPage />}
              {route === "supervise" && (
                <SupervisePage api={api} siteIds={agentView.agent?.supervisedSiteIds ?? []} clients={clients} />
              )}
            </main>
          </>
        )}
        {chats.tabs.map((t) => (
          <ChatWatcher
            key={t.id}
            chatId={t.id}
            me={agentId}
            clients={clients}
            chatsRef={chatsRef}
            dispatch={dispatchChats}
            onStatus={setChatStream}
          />
        ))}
      </div>
    </NowProvider>
  );
}
