import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { useMutation, useTransport } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import type { FormEvent } from "react";
import { AgentService } from "../../gen/proactivechat/v1/agent_service_pb";
import { Console } from "./Console";
import { useAuth, useAuthState } from "./hooks";
import { safeStorage } from "./lib/agentId";
import { errorText } from "./lib/errors";
import type { SignInForm } from "./lib/signin";
import { initialSignIn, rememberSignIn, signInRequest, wrongCredentials } from "./lib/signin";

/**
 * App shows the sign-in screen until the agent has a session, then that
 * agent's console; it comes back to the sign-in screen when the agent signs
 * out or the session ends (see lib/auth.ts).
 */
export function App() {
  const auth = useAuth();
  const { session, ended } = useAuthState();
  const transport = useTransport();
  const queryClient = useQueryClient();
  // What one agent's console fetched is not shown to the next.
  useEffect(() => {
    if (!session) queryClient.clear();
  }, [session, queryClient]);
  if (!session) return <SignIn ended={ended} />;
  const signOut = () => {
    auth.end();
    // The console has forgotten the session already: the call names it itself.
    void createClient(AgentService, transport)
      .signOut({}, { headers: { Authorization: `Bearer ${session.token}` } })
      .catch(() => {}); // it expires by itself
  };
  return <Console key={session.token} agentId={session.agentId} onSignOut={signOut} />;
}

function SignIn({ ended }: { ended: string }) {
  const auth = useAuth();
  const [form, setForm] = useState<SignInForm>(() => initialSignIn(window.location.search, safeStorage()));
  const [password, setPassword] = useState("");
  const [prefilled] = useState(() => form.value !== "");
  const passwordInput = useRef<HTMLInputElement>(null);
  const signIn = useMutation(AgentService.method.signIn, {
    onSuccess: (res) => {
      rememberSignIn(form, safeStorage());
      auth.signedIn(res);
    },
    // The cursor goes back to the (emptied) password field.
    onError: () => {
      setPassword("");
      passwordInput.current?.focus();
    },
  });
  const error = signIn.error
    ? ConnectError.from(signIn.error).code === Code.Unauthenticated
      ? wrongCredentials(form)
      : errorText(signIn.error)
    : "";
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const req = signInRequest(form, password);
    if (req && !signIn.isPending) signIn.mutate(req);
  };
  const byLogin = form.by === "login";
  const described = error ? "signin-error" : undefined;
  return (
    <div className="signin-page">
      <header className="app-header">
        <h1>Proactive Chat · Agent console</h1>
      </header>
      <main className="signin">
        <form onSubmit={submit} data-testid="signin-form" className="card" aria-labelledby="signin-title">
          <h2 id="signin-title">Sign in</h2>
          {ended && !error && (
            <p role="status" className="notice" data-testid="signin-notice">
              {ended}
            </p>
          )}
          <label htmlFor={byLogin ? "login" : "agent-id"}>{byLogin ? "E-mail" : "Agent id"}</label>
          <input
            key={form.by}
            id={byLogin ? "login" : "agent-id"}
            data-testid={byLogin ? "login-input" : "agent-id-input"}
            value={form.value}
            onChange={(e) => setForm({ ...form, value: e.target.value })}
            autoComplete="username"
            inputMode={byLogin ? "email" : undefined}
            autoCapitalize="none"
            spellCheck={false}
            required
            autoFocus={!prefilled}
            aria-invalid={error ? true : undefined}
            aria-describedby={described}
          />
          {byLogin ? (
            <p className="muted small" data-testid="login-hint">
              Your work e-mail, or the login name your admin gave you.
            </p>
          ) : (
            <button
              type="button"
              className="link small"
              data-testid="use-email"
              onClick={() => {
                setForm({ by: "login", value: "" });
                signIn.reset();
              }}
            >
              Sign in with your e-mail instead
            </button>
          )}
          <label htmlFor="password">Password</label>
          <input
            id="password"
            ref={passwordInput}
            type="password"
            data-testid="password-input"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="current-password"
            required
            autoFocus={prefilled}
            aria-invalid={error ? true : undefined}
            aria-describedby={described}
          />
          {error && (
            <p id="signin-error" role="alert" className="error-text" data-testid="signin-error">
              {error}
            </p>
          )}
          <button type="submit" className="primary" data-testid="signin" disabled={signIn.isPending}>
            {signIn.isPending ? "Signing in…" : "Sign in"}
          </button>
        </form>
      </main>
    </div>
  );
}
