// containers: — containers run by runc: lifecycle, logs, stats, exec, and snapshots of their
// writable layer. A container with a terminal started here hands its terminal to the hub.
import type { HandlersOf, ServiceCore } from '../service.ts';

/** exec output kept for the result; the rest is dropped (a terminal suits long output). */
const EXEC_OUTPUT_LIMIT = 1 << 20;
const DEFAULT_SIZE = { cols: 80, rows: 24 };

export function containerHandlers(core: ServiceCore): HandlersOf<'containers'> {
  const runtime = async () => (await core.containers()).runtime;
  const snapshots = async () => (await core.containers()).snapshots;
  /** The container's state after a call that changed it; the watcher tells everyone else. */
  const changed = async (container: string) => {
    core.watcher.poke();
    return (await runtime()).inspect(container);
  };
  /** A container with a terminal started here hands it to the hub (the app's console for it). */
  const start = async (container: string, size: { cols?: number; rows?: number } = {}) => {
    const rt = await runtime();
    const info = await rt.inspect(container);
    if (info.tty) {
      await core.terminals.adoptConsole(info.id, rt.startTerminal(info.id, { cols: size.cols ?? DEFAULT_SIZE.cols, rows: size.rows ?? DEFAULT_SIZE.rows }));
    } else {
      await rt.start(info.id);
    }
    return info.id;
  };
  return {
    'containers:list': async () => (await runtime()).list(),
    'containers:inspect': async ({ container }) => (await runtime()).inspect(container),
    'containers:create': async ({ image, operation: _operation, ...options }, { signal, onProgress }) => {
      const info = await (await runtime()).create(image, options, { signal, onProgress });
      core.watcher.poke();
      return info;
    },
    'containers:start': async ({ container, cols, rows }) => changed(await start(container, { cols, rows })),
    'containers:stop': async ({ container, timeoutSeconds }) => {
      await (await runtime()).stop(container, timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000);
      return changed(container);
    },
    'containers:kill': async ({ container, signal }) => {
      await (await runtime()).kill(container, signal);
      return changed(container);
    },
    'containers:pause': async ({ container }) => {
      await (await runtime()).pause(container);
      return changed(container);
    },
    'containers:resume': async ({ container }) => {
      await (await runtime()).resume(container);
      return changed(container);
    },
    'containers:remove': async ({ container, force }) => {
      await (await runtime()).remove(container, { force });
      core.watcher.poke();
      return null;
    },
    'containers:logs': async ({ container }) => new Uint8Array(await (await runtime()).logs(container)),
    'containers:stats': async ({ container }) => (await runtime()).stats(container),
    'containers:exec': async ({ container, command, env }) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      const exitCode = await (await runtime()).exec(container, command, {
        env,
        onOutput: (_stream, chunk) => {
          if (kept >= EXEC_OUTPUT_LIMIT) return;
          chunks.push(chunk.subarray(0, EXEC_OUTPUT_LIMIT - kept));
          kept += chunks.at(-1)!.length;
        },
      });
      return { exitCode, output: new Uint8Array(Buffer.concat(chunks)) };
    },

    'containers:snapshots': async ({ container }) => (await snapshots()).list(container),
    'containers:snapshot': async ({ container }) => (await snapshots()).take(container),
    // A running container is stopped, rolled back and started again (through the hub, as above).
    'containers:restore': async ({ container, snapshot }) => {
      await (await snapshots()).restore(container, snapshot, { start: (id) => start(id) });
      core.watcher.poke();
      return null;
    },
    'containers:commit': async ({ container, snapshot, image }) => {
      const committed = await (await snapshots()).commit(container, snapshot, image);
      const { manifest: _m, config: _c, ...summary } = await (await core.containers()).store.inspect(committed.name);
      core.watcher.poke();
      return summary;
    },
  };
}
