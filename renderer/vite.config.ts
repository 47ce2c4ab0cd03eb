// Builds the renderer into renderer/dist: one page, relative asset paths (so it loads from the
// desktop app's hangar:// protocol and from `hangar serve` alike).
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  // The app's icons (the page's favicon among them) come from assets/icons.
  publicDir: '../assets/icons',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
});
