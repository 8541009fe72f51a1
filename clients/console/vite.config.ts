// Vite build of the agent console. Run from clients/:
//   npx vite build --config console/vite.config.ts   (writes server/web/dist/agent)
//   npx vite --config console/vite.config.ts         (dev server, API proxied)
// The Go server serves the build at /agent/; the output is deterministic
// (content hashes only, no timestamps, no source maps) because CI rebuilds
// it and fails when the committed copy differs.
import { defineConfig, loadEnv } from "vite";
import react from "@vitejs/plugin-react";

const here = (rel: string) => decodeURIComponent(new URL(rel, import.meta.url).pathname);

// Connect paths are /<package>.<Service>/<Method>; the dev and preview servers
// forward them to a running Go server (PROACTIVECHAT_API, default :8080).
const apiPrefixes = ["/proactivechat.v1.", "/grpc.health.v1."];

export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, here("."), "PROACTIVECHAT_");
  const target = env.PROACTIVECHAT_API || "http://127.0.0.1:8080";
  const proxy = Object.fromEntries(apiPrefixes.map((p) => [p, { target, changeOrigin: false }]));
  return {
    root: here("."),
    base: "/agent/",
    plugins: [react()],
    server: { proxy },
    preview: { proxy },
    build: {
      outDir: here("../../server/web/dist/agent"),
      emptyOutDir: true,
      sourcemap: false,
      reportCompressedSize: false,
      rollupOptions: {
        output: {
          entryFileNames: "assets/console-[hash].js",
          chunkFileNames: "assets/[name]-[hash].js",
          assetFileNames: "assets/console-[hash][extname]",
        },
      },
    },
  };
});
