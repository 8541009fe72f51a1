import { useState } from "react";
import type { FormEvent } from "react";
import { Console } from "./Console";
import { DEMO_AGENT_ID, forgetAgentId, initialAgentId, rememberAgentId, safeStorage } from "./lib/agentId";

/**
 * App asks who the agent is (there is no sign-in yet: a later version adds
 * authentication) and then shows that agent's console.
 */
export function App() {
  const [agentId, setAgentId] = useState(() => initialAgentId(window.location.search, safeStorage()));
  if (!agentId) {
    return (
      <SignIn
        onSignIn={(id) => {
          rememberAgentId(id, safeStorage());
          setAgentId(id);
        }}
      />
    );
  }
  return (
    <Console
      key={agentId}
      agentId={agentId}
      onSwitchAgent={() => {
        forgetAgentId(safeStorage());
        const url = new URL(window.location.href);
        if (url.searchParams.has("agent")) {
          url.searchParams.delete("agent");
          window.history.replaceState(null, "", url);
        }
        setAgentId(undefined);
      }}
    />
  );
}

function SignIn({ onSignIn }: { onSignIn: (id: string) => void }) {
  const [id, setId] = useState(DEMO_AGENT_ID);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (id.trim()) onSignIn(id.trim());
  };
  return (
    <div className="signin-page">
      <header className="app-header">
        <h1>Proactive Chat · Agent console</h1>
      </header>
      <main className="signin">
        <form onSubmit={submit} data-testid="signin-form" className="card">
          <h2>Who is working?</h2>
          <p className="muted">Enter your agent id. The console remembers it on this computer.</p>
          <label htmlFor="agent-id">Agent id</label>
          <input
            id="agent-id"
            data-testid="agent-id-input"
            value={id}
            onChange={(e) => setId(e.target.value)}
            autoComplete="username"
            required
          />
          <button type="submit" className="primary" data-testid="signin">
            Open console
          </button>
        </form>
      </main>
    </div>
  );
}
