import { TransportProvider } from "@connectrpc/connect-query";
import { createConnectTransport } from "@connectrpc/connect-web";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { isRetryable } from "./lib/errors";
import "./console.css";

// The console is served by the Connect server itself (at /agent/), so the API
// is on the page's own origin.
const transport = createConnectTransport({ baseUrl: window.location.origin });

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
    <TransportProvider transport={transport}>
      <QueryClientProvider client={queryClient}>
        <App />
      </QueryClientProvider>
    </TransportProvider>
  </StrictMode>,
);
