import { useMutation } from "@connectrpc/connect-query";
import type { Agent } from "../../../gen/proactivechat/v1/agent_pb";
import { AgentStatus } from "../../../gen/proactivechat/v1/agent_pb";
import { AgentService } from "../../../gen/proactivechat/v1/agent_service_pb";
import type { Route } from "../hooks";
import { useNow } from "../hooks";
import { errorText } from "../lib/errors";
import type { StreamStatus } from "../lib/stream";
import { statusOptions } from "../labels";
import { MyRating } from "./Rating";

export interface HeaderProps {
  agentId: string;
  agent?: Agent;
  onAgent: (a: Agent) => void;
  streams: { agent: StreamStatus; presence: StreamStatus };
  soundOn: boolean;
  onToggleSound: () => void;
  soundReady: boolean;
  onSignOut: () => void;
  route: Route;
  unread: number;
  /** Messages visitors left that nobody handled yet. */
  newMessages?: number;
}

export function Header(props: HeaderProps) {
  const { agentId, agent, route } = props;
  return (
    <header className="app-header">
      <h1>
        Proactive Chat <span className="muted">· Agent console</span>
      </h1>
      <nav aria-label="Sections" className="nav">
        <a href="#/" aria-current={route === "console" ? "page" : undefined} data-testid="nav-console">
          Console{props.unread > 0 && <span className="badge">{props.unread}</span>}
        </a>
        <a href="#/transcripts" aria-current={route === "transcripts" ? "page" : undefined} data-testid="nav-transcripts">
          Transcripts
        </a>
        {(agent?.supervisedSiteIds.length ?? 0) > 0 && (
          <a href="#/supervise" aria-current={route === "supervise" ? "page" : undefined} data-testid="nav-supervise">
            Supervise
          </a>
        )}
        <a href="#/messages" aria-current={route === "messages" ? "page" : undefined} data-testid="nav-messages">
          Messages
          {(props.newMessages ?? 0) > 0 && (
            <span className="badge" data-testid="messages-badge" aria-label={`${props.newMessages} to follow up`}>
              {props.newMessages}
            </span>
          )}
        </a>
        <a href="#/admin" aria-current={route === "admin" ? "page" : undefined} data-testid="nav-admin">
          Admin
        </a>
      </nav>
      <div className="header-tools">
        <ConnectionStatus streams={props.streams} />
        <StatusSelect agentId={agentId} agent={agent} onAgent={props.onAgent} />
        <SoundToggle soundOn={props.soundOn} soundReady={props.soundReady} onToggle={props.onToggleSound} />
        <span className="agent-name" data-testid="agent-name">
          {agent?.displayName || agentId}
        </span>
        <MyRating agentId={agentId} />
        <button type="button" className="ghost" onClick={props.onSignOut} data-testid="sign-out">
          Sign out
        </button>
      </div>
    </header>
  );
}

const SOUND_LABELS = { off: "Sound off", on: "Sound on", allow: "Allow sound" } as const;

/**
 * SoundToggle keeps one width whatever its label (see .sound-toggle in
 * console.css): the label changes when the page's first click or key press
 * allows sound, and nothing may move under the pointer between its press and
 * its release.
 */
function SoundToggle({ soundOn, soundReady, onToggle }: { soundOn: boolean; soundReady: boolean; onToggle: () => void }) {
  const shown = !soundOn ? "off" : soundReady ? "on" : "allow";
  const [b, c] = (Object.keys(SOUND_LABELS) as (keyof typeof SOUND_LABELS)[])
    .filter((k) => k !== shown)
    .map((k) => SOUND_LABELS[k]);
  return (
    <button
      type="button"
      className="ghost sound-toggle"
      aria-pressed={soundOn && soundReady}
      onClick={onToggle}
      data-testid="sound-toggle"
      data-label-b={b}
      data-label-c={c}
      title={shown === "allow" ? "Browsers play sound only after a click on the page" : undefined}
    >
      <span>{SOUND_LABELS[shown]}</span>
    </button>
  );
}

function StatusSelect({ agentId, agent, onAgent }: { agentId: string; agent?: Agent; onAgent: (a: Agent) => void }) {
  const setStatus = useMutation(AgentService.method.setAgentStatus, {
    onSuccess: (res) => res.agent && onAgent(res.agent),
  });
  const value = setStatus.isPending ? setStatus.variables?.status : agent?.status;
  return (
    <div className="status-select">
      <label htmlFor="agent-status">Status</label>
      <select
        id="agent-status"
        data-testid="status-select"
        data-status={agent ? AgentStatus[agent.status] : undefined}
        className={`status-${value ?? 0}`}
        value={value ?? ""}
        disabled={!agent}
        onChange={(e) => setStatus.mutate({ agentId, status: Number(e.target.value) as AgentStatus })}
      >
        {!agent && <option value="">…</option>}
        {statusOptions.map(([v, label]) => (
          <option key={v} value={v}>
            {label}
          </option>
        ))}
      </select>
      {setStatus.isError && (
        <span role="alert" className="error-text" data-testid="status-error">
          {errorText(setStatus.error)}
        </span>
      )}
    </div>
  );
}

function ConnectionStatus({ streams }: { streams: { agent: StreamStatus; presence: StreamStatus } }) {
  const now = useNow();
  const worst = [streams.agent, streams.presence].find((s) => s.state !== "open") ?? streams.agent;
  let text = "Live";
  let cls = "ok";
  switch (worst.state) {
    case "connecting":
      text = worst.attempt === 0 ? "Connecting…" : "Reconnecting…";
      cls = "warn";
      break;
    case "retrying":
      text = `Connection lost — retrying in ${Math.max(0, Math.ceil((worst.retryAt - now) / 1000))} s`;
      cls = "bad";
      break;
    case "failed":
      text = `Disconnected: ${worst.error}`;
      cls = "bad";
      break;
  }
  return (
    <span className={`conn conn-${cls}`} role="status" data-testid="connection-status" data-state={worst.state}>
      <span className="dot" aria-hidden="true" />
      {text}
    </span>
  );
}
