import type { KeyValueStorage } from "./agentId";
import { forgetAgentId, initialAgentId, rememberAgentId } from "./agentId";

const LOGIN_KEY = "proactivechat.console.login";

/**
 * SignInForm is what the sign-in screen asks for: an e-mail address (or
 * login name), or, as a fallback for links with ?agent=, the agent's id.
 */
export interface SignInForm {
  by: "login" | "agentId";
  value: string;
}

/**
 * initialSignIn decides what the sign-in screen shows first: ?agent= (a
 * fallback kept for old links and the README) asks for that agent's
 * password; otherwise the remembered e-mail, else an agent id remembered by
 * an older console, else an empty e-mail field.
 */
export function initialSignIn(search: string, storage: KeyValueStorage | undefined): SignInForm {
  if (new URLSearchParams(search).get("agent")?.trim()) {
    return { by: "agentId", value: initialAgentId(search, storage) ?? "" };
  }
  let login: string | undefined;
  try {
    login = storage?.getItem(LOGIN_KEY)?.trim() || undefined;
  } catch {
    login = undefined;
  }
  if (login) return { by: "login", value: login };
  const agentId = initialAgentId(search, storage);
  return agentId ? { by: "agentId", value: agentId } : { by: "login", value: "" };
}

/** signInRequest is the SignIn request for the form, or undefined while incomplete. */
export function signInRequest(form: SignInForm, password: string): { agentId?: string; login?: string; password: string } | undefined {
  const value = form.value.trim();
  if (!value || !password) return undefined;
  return form.by === "login" ? { login: value, password } : { agentId: value, password };
}

/** rememberSignIn keeps what the agent signed in with for the next sign-in on this browser. */
export function rememberSignIn(form: SignInForm, storage: KeyValueStorage | undefined): void {
  const value = form.value.trim();
  if (form.by === "agentId") {
    rememberAgentId(value, storage);
    return;
  }
  forgetAgentId(storage);
  try {
    storage?.setItem(LOGIN_KEY, value);
  } catch {
    // storage full or disabled: asked again next time
  }
}

/** wrongCredentials is the message for an UNAUTHENTICATED sign-in. */
export function wrongCredentials(form: SignInForm): string {
  return form.by === "login" ? "Wrong e-mail or password." : "Wrong agent id or password.";
}
