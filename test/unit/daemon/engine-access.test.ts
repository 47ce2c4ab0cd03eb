// How the app and `hangar serve` reach the engine (engine/daemon/engine-access.ts): the first to
// open a library owns it; a second relays to the owner over the real loopback WebSocket (calls
// and events go through; preferences stay its own); when the owner lets go, the relay's next
// call makes it the owner. Both engines live in this process, each with its own ApiService.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiEvent, VmListEntry } from '../../../engine/api/channels.ts';
import { defaultPreferences, FilePreferences } from '../../../engine/api/preferences-store.ts';
import { ApiService } from '../../../engine/api/service.ts';
import { ContainersService } from '../../../engine/containers/index.ts';
import { openEngine } from '../../../engine/daemon/engine-access.ts';
import { VmLibrary } from '../../../engine/vm/library.ts';
import { machineParts } from '../../../engine/vm/runner-machine.ts';
import { VmRunners } from '../../../engine/vm/runners.ts';
import { bootFiles, scratch } from '../vm/support.ts';

function engineService(home: string, preferencesFile: string, version = '9.9.9'): ApiService {
  return new ApiService({
    containers: new ContainersService(join(home, 'containers')),
    vms: new VmRunners(new VmLibrary(join(home, 'vms')), machineParts),
    preferences: new FilePreferences(preferencesFile, defaultPreferences({ HANGAR_HOME: home })),
    version,
  });
}

/** Resolves with the first event `events` receives that matches. */
function nextEvent(events: ((event: ApiEvent) => void)[], match: (event: ApiEvent) => boolean): Promise<ApiEvent> {
  return new Promise((resolve) => events.push((event) => { if (match(event)) resolve(event); }));
}

const names = (value: unknown) => (value as VmListEntry[]).map((v) => v.name);

test('a second engine relays to the owner: calls and events go there, preferences stay its own; it takes over when the owner lets go', async (t) => {
  const dir = scratch(t, 'hangar-access-');
  const home = join(dir, 'home');
  const boot = bootFiles(dir);

  const first = await openEngine(home, engineService(home, join(dir, 'first.json'), '1.0.0-owner'));
  assert.equal(first.owns, true);
  assert.equal(existsSync(join(home, 'engine.json')), true);
  const second = await openEngine(home, engineService(home, join(dir, 'second.json'), '2.0.0-relay'));
  t.after(() => second.close());
  assert.equal(second.owns, false);
  assert.equal(second.ownerPid, process.pid);

  const ownerListeners: ((event: ApiEvent) => void)[] = [];
  const relayListeners: ((event: ApiEvent) => void)[] = [];
  const owner = first.connect((event) => { for (const l of ownerListeners) l(event); });
  const relay = second.connect((event) => { for (const l of relayListeners) l(event); });

  // The relay's calls are answered by the owner's service.
  const info = await relay.call('app:info', {});
  assert.equal(info.ok && (info.value as { version: string }).version, '1.0.0-owner');

  // A VM made through the relay is made in the owner's library, and the owner's event reaches the relay.
  const changed = nextEvent(relayListeners, (e) => e.type === 'vms:changed' && e.vms.some((v) => v.name === 'web'));
  const created = await relay.call('vms:create', { name: 'web', preset: 'custom', ...boot, memory: 64 << 20, diskSize: 8 << 20 });
  assert.equal(created.ok, true, JSON.stringify(created));
  await changed;
  const listed = await owner.call('vms:list', {});
  assert.deepEqual(listed.ok && names(listed.value), ['web']);
  // One made by the owner shows through the relay.
  assert.equal((await owner.call('vms:create', { name: 'db', preset: 'custom', ...boot, memory: 64 << 20, diskSize: 8 << 20 })).ok, true);
  const relayed = await relay.call('vms:list', {});
  assert.deepEqual(relayed.ok && names(relayed.value).sort(), ['db', 'web']);
  // Errors come back as the owner's values.
  const missing = await relay.call('vms:start', { vm: 'nowhere' });
  assert.equal(!missing.ok && missing.error.code, 'not-found');

  // Preferences are the relay's own: setting them changes its file, not the owner's.
  const set = await relay.call('preferences:set', { consoleFontSize: 20 });
  assert.equal(set.ok, true, JSON.stringify(set));
  const ownerPreferences = await owner.call('preferences:get', {});
  assert.equal(ownerPreferences.ok && (ownerPreferences.value as { consoleFontSize: number }).consoleFontSize, 14);
  const relayPreferences = await relay.call('preferences:get', {});
  assert.equal(relayPreferences.ok && (relayPreferences.value as { consoleFontSize: number }).consoleFontSize, 20);

  // The owner lets go of the library (as the app or a daemon does when it ends): the relay's
  // next call finds no owner, so the second engine takes the library and answers itself.
  owner.close();
  await first.close();
  const after = await relay.call('app:info', {});
  assert.equal(after.ok && (after.value as { version: string }).version, '2.0.0-relay');
  assert.equal(second.owns, true);
  const listedHere = await relay.call('vms:list', {});
  assert.deepEqual(listedHere.ok && names(listedHere.value).sort(), ['db', 'web']);
  const endpoint = JSON.parse(readFileSync(join(home, 'engine.json'), 'utf8')) as { port: number };
  assert.ok(endpoint.port > 0);
  relay.close();
});

test('an engine with no owner to relay to owns the library; closing lets go of it', async (t) => {
  const dir = scratch(t, 'hangar-access-');
  const home = join(dir, 'home');
  const engine = await openEngine(home, engineService(home, join(dir, 'prefs.json')));
  const session = engine.connect(() => {});
  assert.deepEqual(await session.call('vms:list', {}), { ok: true, value: [] });
  session.close();
  await engine.close();
  assert.equal(existsSync(join(home, 'engine.json')), false);
  assert.equal(existsSync(join(home, 'engine.lock')), false);
});
