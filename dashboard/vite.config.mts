import { defineConfig } from 'vite';

// The hub serves the build under /dashboard/ (mail-runtime/hub/api/static.ts).
// Everything is bundled: the page works with no internet (no CDN).
export default defineConfig({
  root: import.meta.dirname,
  base: '/dashboard/',
  // Preact's automatic JSX runtime (Vite 8 transforms with Oxc).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 400 },
  logLevel: 'warn',
});
