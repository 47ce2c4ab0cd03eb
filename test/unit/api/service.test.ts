// The in-process service: engine errors as values with codes, preferences and their event,
// and long calls cancelled by their operation id (a pull from a registry on loopback that
// never finishes answering).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiEvent } from '../../../engine/api/channels.ts';
import { ApiClient, inProcessTransport } from '../../../engine/api/client.ts';
import { defaultPreferences, FilePreferences } from '../../../engine/api/preferences-store.ts';
import { ApiService } from '../../../engine/api/service.ts';
import { ContainersService } from '../../../engine/containers/index.ts';

let dir: string;
let service: ApiService;
let api: ApiClient;
const events: ApiEvent[] = [];
let registry: Server;
let registryHost: string;
const stalled = new Set<import('node:http').ServerResponse>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-api-'));
  // A registry that sends a manifest's headers and then nothing more.
  registry = createServer((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': '1000' });
    res.write('{');
    stalled.add(res);
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  registryHost = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
  mkdirSync(join(dir, 'containers'), { recursive: true });
  writeFileSync(join(dir, 'containers', 'registries.json'), JSON.stringify({ insecure: [registryHost] }));
  service = new ApiService({
    containers: new ContainersService(join(dir, 'containers')),
    preferences: new FilePreferences(join(dir, 'preferences.json'), defaultPreferences({ HOME: dir })),
    version: '1.2.3',
  });
  api = new ApiClient(inProcessTransport((listener) => service.connect(listener)));
  api.subscribe((e) => events.push(e));
});

after(async () => {
  service.close();
  for (const res of stalled) res.destroy();
  await new Promise((r) => registry.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('app:info says what this engine can do', async () => {
  const info = await api.invoke('app:info', {});
  assert.equal(info.version, '1.2.3');
  assert.deepEqual(info.features.containers, { available: true });
  assert.deepEqual(info.features.vms, { available: true });
});

test('engine errors arrive as values with a code and the engine\'s message', async () => {
  assert.deepEqual(await api.call('containers:inspect', { container: 'nothing-here' }), {
    ok: false, error: { code: 'not-found', message: 'no container named "nothing-here" (see hangar ct ls)' },
  });
  const image = await api.call('images:inspect', { image: 'busybox:latest' });
  assert.equal(!image.ok && image.error.code, 'not-found');
  const terminal = await api.call('terminals:write', { terminal: 'no-such-view', data: 'x' });
  assert.deepEqual(terminal, { ok: false, error: { code: 'not-found', message: 'no open terminal no-such-view' } });
});

test('preferences: a change is checked, stored, returned and announced', async () => {
  const before = await api.invoke('preferences:get', {});
  assert.equal(before.theme, 'system');
  const after = await api.invoke('preferences:set', { theme: 'dark', consoleFontSize: 16 });
  assert.deepEqual(after, { ...before, theme: 'dark', consoleFontSize: 16 });
  assert.deepEqual(events.filter((e) => e.type === 'preferences:changed').at(-1), { type: 'preferences:changed', preferences: after });
  assert.deepEqual(await api.invoke('preferences:get', {}), after);
  const refused = await api.call('preferences:set', { consoleFontSize: 99 });
  assert.equal(!refused.ok && refused.error.message, 'preferences:set.consoleFontSize: must be at most 32');
  assert.equal((await api.invoke('preferences:get', {})).consoleFontSize, 16);
});

test('a long call is cancelled by its operation id; a second call may not reuse a running id', async () => {
  const pull = api.call('images:pull', { reference: `${registryHost}/stuck:1`, operation: 'pull-1' });
  while (stalled.size === 0) await new Promise((r) => setTimeout(r, 10));
  const twin = await api.call('images:pull', { reference: `${registryHost}/stuck:2`, operation: 'pull-1' });
  assert.deepEqual(twin, { ok: false, error: { code: 'conflict', message: 'operation pull-1 is already running' } });
  assert.deepEqual(await api.invoke('operations:cancel', { id: 'pull-1' }), { cancelled: true });
  assert.deepEqual(await pull, { ok: false, error: { code: 'cancelled', message: 'cancelled' } });
  // Done with: the id is free again, and cancelling it finds nothing.
  assert.deepEqual(await api.invoke('operations:cancel', { id: 'pull-1' }), { cancelled: false });
});
