// Vite build of the Panoptes web UI. The output in dist/ is committed and embedded in the
// binary by crates/ui, so the build must be deterministic: content hashes only, no timestamps.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  // `npm run dev` proxies the APIs to a running server (PANOPTES_URL, default :9090).
  server: {
    proxy: Object.fromEntries(["/api", "/-/", "/metrics"].map((p) => [p, process.env.PANOPTES_URL ?? "http://127.0.0.1:9090"])),
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    // Committed and embedded by crates/ui (see its build.rs); scripts/check-ui-assets verifies it.
    outDir: "../crates/ui/dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        entryFileNames: "assets/[name]-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
  test: { include: ["test/**/*.test.ts"] },
} as any);
