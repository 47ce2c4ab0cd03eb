// app:, preferences: and operations: — what the engine is, the app's preferences, and the
// cancelling of long calls.
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { WASM_PATH } from '../../cpu/cpu.ts';
import type { AppInfo } from '../channels.ts';
import { toApiError } from '../errors.ts';
import type { HandlersOf, ServiceCore } from '../service.ts';

type Feature = AppInfo['features']['vms'];

/**
 * Whether this process can run VMs: the CPU core (`wasm`, the built cpu.wasm) compiles, and the
 * machine's pieces work here — a shared WebAssembly.Memory (guest RAM, seen by every vCPU
 * thread) and a worker thread that writes into a SharedArrayBuffer the probe sees.
 */
export async function probeVmSupport(wasm: string): Promise<Feature> {
  const unavailable = (reason: string): Feature => ({ available: false, reason: `VMs cannot run here: ${reason}` });
  let bytes: Buffer;
  try {
    bytes = await readFile(wasm);
  } catch (err) {
    return unavailable(`the CPU core ${wasm} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): run \`npm run build\``);
  }
  try {
    await WebAssembly.compile(new Uint8Array(bytes));
  } catch (err) {
    return unavailable(`the CPU core ${wasm} is not valid WebAssembly (${(err as Error).message}): run \`npm run build\``);
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (err) {
    return unavailable(`shared WebAssembly memory is not allowed (${(err as Error).message})`);
  }
  try {
    const word = new Int32Array(new SharedArrayBuffer(4));
    await new Promise<void>((resolve, reject) => {
      const worker = new Worker("require('node:worker_threads').parentPort.once('message', (w) => { Atomics.store(w, 0, 1); process.exit(0); });", { eval: true, execArgv: [] });
      worker.once('error', reject);
      worker.once('exit', () => resolve());
      worker.postMessage(word);
    });
    if (Atomics.load(word, 0) !== 1) return unavailable('a worker thread cannot write shared memory');
  } catch (err) {
    return unavailable(`worker threads cannot start (${(err as Error).message})`);
  }
  return { available: true };
}

/** Probed once per process: none of it changes while the engine runs. */
let vmSupport: Promise<Feature> | undefined;

export function appHandlers(core: ServiceCore): HandlersOf<'app'> & HandlersOf<'preferences'> & HandlersOf<'operations'> {
  return {
    'app:info': async () => {
      const [containers, vms] = await Promise.all([
        core.containers().then((): Feature => ({ available: true }), (err): Feature => ({ available: false, reason: toApiError(err).message })),
        vmSupport ??= probeVmSupport(WASM_PATH),
      ]);
      return {
        version: core.options.version,
        platform: process.platform,
        features: { containers, vms },
      };
    },

    'preferences:get': async () => core.options.preferences.read(),
    'preferences:set': async (change) => {
      const preferences = { ...core.options.preferences.read(), ...change };
      await core.options.preferences.write(preferences);
      core.broadcast({ type: 'preferences:changed', preferences });
      return preferences;
    },

    'operations:cancel': async ({ id }) => ({ cancelled: core.cancel(id) }),
  };
}
