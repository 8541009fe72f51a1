// Builds the widget into one self-contained script, server/web/dist/widget/widget.js,
// which the Go server embeds and serves at /widget.js. From clients/:
//   npx vite build --config widget/vite.config.ts
// The output is committed and CI rebuilds it, so it must be the same bytes
// for the same sources: no hashes, timestamps, banners or source maps.
import { defineConfig } from "vite";

const dir = (p: string) => decodeURIComponent(new URL(p, import.meta.url).pathname);

export default defineConfig({
  root: dir("."),
  publicDir: false,
  logLevel: "warn",
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: dir("../../server/web/dist/widget"),
    emptyOutDir: true,
    target: "es2020",
    minify: true,
    sourcemap: false,
    reportCompressedSize: false,
    copyPublicDir: false,
    lib: {
      entry: dir("main.ts"),
      formats: ["iife"],
      name: "ProactiveChatWidget",
      fileName: () => "widget.js",
    },
  },
});
