// Bundles the preload into one CommonJS file: a sandboxed preload cannot load modules of its
// own (only 'electron'), so the channel map it is generated from travels inside it.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('./preload/index.ts', import.meta.url).pathname],
  outfile: new URL('./dist/preload.cjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'es2022',
  external: ['electron'],
  logLevel: 'warning',
});
