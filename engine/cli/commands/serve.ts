// `hangar serve [--port N]`: the desktop app's UI in any browser. Serves the built renderer on
// 127.0.0.1 and the service API over a WebSocket that needs the token in the printed URL.
// Runs until Ctrl-C; containers started from the UI keep running after it stops. It owns the
// library when no other engine does (its VMs are saved when it stops); otherwise it relays to
// the owner, which runs the VMs (engine/daemon/engine-access.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from '../args.ts';
import { EXIT, UsageError } from '../errors.ts';
import { createApiService } from '../../api/index.ts';
import { FilePreferences, libraryFolder, preferencesPath } from '../../api/preferences-store.ts';
import { serve } from '../../api/websocket-server.ts';
import { openEngine } from '../../daemon/engine-access.ts';

export const summary = 'the app in a browser: serve the UI and the API on 127.0.0.1';

const USAGE = 'usage: hangar serve [--port N]   (N = 0, the default, takes any free port)';
const RENDERER = fileURLToPath(new URL('../../../renderer/dist', import.meta.url));

export async function run(argv: string[]): Promise<number> {
  const { options, positionals } = parseArgs(argv, { port: { type: 'string', short: 'p' }, help: { type: 'boolean', short: 'h' } });
  if (options.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (positionals.length) throw new UsageError(`serve takes no arguments\n${USAGE}`);
  const port = options.port === undefined ? 0 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${String(options.port)}: must be a port number (0-65535)`);
  if (!existsSync(join(RENDERER, 'index.html'))) throw new UsageError('the UI is not built: run npm run build:ui first');

  const preferences = new FilePreferences(preferencesPath());
  const home = libraryFolder(preferences.read());
  const engine = await openEngine(home, createApiService({ home, preferences }));
  if (!engine.owns) console.error(`hangar serve: the engine in process ${engine.ownerPid} runs this library's VMs; the UI talks to it through this server`);
  const server = await serve({ service: engine, staticDir: RENDERER, port });
  console.log(`Hangar is serving on ${server.url}`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await server.close();
  await engine.close();
  return EXIT.ok;
}
