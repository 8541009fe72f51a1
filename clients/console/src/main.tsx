import { TransportProvider } from "@connectrpc/connect-query";
import { createConnectTransport } from "@connectrpc/connect-web";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { AuthProvider } from "./hooks";
import { Auth } from "./lib/auth";
import { isRetryable } from "./lib/errors";
import "./console.css";

// The agent's session (and the admin page's API key): every call carries
// one, through the transport's interceptor.
const auth = new Auth();

// The console is served by the Connect server itself (at /agent/), so the API
// is on the page's own origin.
const transport = createConnectTransport({ baseUrl: window.location.origin, interceptors: [auth.interceptor] });

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      retry: (failures, err) => failures < 3 && isRetryable(err),
      refetchOnWindowFocus: false,
    },
    mutations: { retry: false },
  },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <AuthProvider auth={auth}>
      <TransportProvider transport={transport}>
        <QueryClientProvider client={queryClient}>
          <App />
        </QueryClientProvider>
      </TransportProvider>
    </AuthProvider>
  </StrictMode>,
);
