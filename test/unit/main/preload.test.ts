// The preload exposes the service API and nothing else: the bundle that Electron loads is
// built and run here with only a stand-in for the 'electron' module (the unit under test is
// the bundle; the stand-in records what it is given).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { build } from 'esbuild';
import { channelNames, domains } from '../../../engine/api/channels.ts';
import { EVENT_CHANNEL } from '../../../main/ipc.ts';

async function loadPreload() {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-preload-'));
  try {
    const outfile = join(dir, 'preload.cjs');
    await build({ entryPoints: [new URL('../../../main/preload/index.ts', import.meta.url).pathname], outfile, bundle: true, platform: 'node', format: 'cjs', external: ['electron'], logLevel: 'silent' });
    return readFileSync(outfile, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(code: string) {
  const exposed: Record<string, unknown> = {};
  const invoked: [string, unknown][] = [];
  const listeners = new Map<string, Set<(event: unknown, payload: unknown) => void>>();
  const required: string[] = [];
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => { exposed[key] = api; } },
    ipcRenderer: {
      invoke: async (channel: string, args: unknown) => { invoked.push([channel, args]); return { ok: true, value: null }; },
      on: (channel: string, l: (e: unknown, p: unknown) => void) => { (listeners.get(channel) ?? listeners.set(channel, new Set()).get(channel)!).add(l); },
      removeListener: (channel: string, l: (e: unknown, p: unknown) => void) => { listeners.get(channel)?.delete(l); },
    },
  };
  const module = { exports: {} };
  runInNewContext(code, { module, exports: module.exports, require: (name: string) => { required.push(name); if (name !== 'electron') throw new Error(`preload required ${name}`); return electron; } });
  return { exposed, invoked, listeners, required };
}

test('the preload bundle needs only electron and exposes one key, window.hangar', async () => {
  const { exposed, required } = run(await loadPreload());
  assert.deepEqual([...new Set(required)], ['electron']);
  assert.deepEqual(Object.keys(exposed), ['hangar']);
});

test('window.hangar holds one object per API domain with exactly its verbs, and the event stream', async () => {
  const { exposed } = run(await loadPreload());
  const api = exposed.hangar as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(api).sort(), [...domains, 'events'].sort());
  for (const domain of domains) {
    const verbs = channelNames.filter((c) => c.startsWith(`${domain}:`)).map((c) => c.slice(domain.length + 1));
    assert.deepEqual(Object.keys(api[domain]!).sort(), verbs.sort(), domain);
    for (const verb of verbs) assert.equal(typeof api[domain]![verb], 'function');
  }
  assert.deepEqual(Object.keys(api.events!), ['subscribe']);
  // The VM domain is there like the others, camel-cased verbs included.
  for (const verb of ['create', 'start', 'stop', 'save', 'snapshot', 'restoreSnapshot', 'clone', 'console']) assert.equal(typeof api.vms![verb], 'function', verb);
  assert.ok(Object.isFrozen(api) && Object.isFrozen(api.containers));
});

test('a method invokes its own channel with the argument as given', async () => {
  const { exposed, invoked } = run(await loadPreload());
  const api = exposed.hangar as Record<string, Record<string, (args: unknown) => Promise<unknown>>>;
  assert.deepEqual(await api.containers!.pause!({ container: 'web' }), { ok: true, value: null });
  await api.images!.pull!({ reference: 'busybox', operation: 'op-1' });
  await api.vms!.restoreSnapshot!({ vm: 'debian', snapshot: 'clean', saveCurrentAs: 'before' });
  assert.deepEqual(invoked, [
    ['containers:pause', { container: 'web' }],
    ['images:pull', { reference: 'busybox', operation: 'op-1' }],
    ['vms:restoreSnapshot', { vm: 'debian', snapshot: 'clean', saveCurrentAs: 'before' }],
  ]);
});

test('events arrive through subscribe, and stop after unsubscribing', async () => {
  const { exposed, listeners } = run(await loadPreload());
  const events = (exposed.hangar as { events: { subscribe(l: (e: unknown) => void): () => void } }).events;
  const seen: unknown[] = [];
  const unsubscribe = events.subscribe((e) => seen.push(e));
  assert.deepEqual([...listeners.keys()], [EVENT_CHANNEL]);
  for (const l of listeners.get(EVENT_CHANNEL)!) l({ sender: 'ipc event object stays behind' }, { type: 'containers:changed', containers: [] });
  unsubscribe();
  assert.equal(listeners.get(EVENT_CHANNEL)!.size, 0);
  assert.deepEqual(seen, [{ type: 'containers:changed', containers: [] }]);
});
