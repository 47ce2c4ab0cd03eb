// The IPC handler table: one handler per API channel and no other, refusing callers that are
// not the app's page; arguments are checked by the service behind it (malformed ones refused
// with an error value naming the field).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { channelNames, channels } from '../../../engine/api/channels.ts';
import { ApiService, type ApiSession } from '../../../engine/api/service.ts';
import { defaultPreferences, FilePreferences } from '../../../engine/api/preferences-store.ts';
import { ContainersService } from '../../../engine/containers/index.ts';
import { VmLibrary } from '../../../engine/vm/library.ts';
import { machineParts } from '../../../engine/vm/runner-machine.ts';
import { VmRunners } from '../../../engine/vm/runners.ts';
import { ipcHandlerTable, registerIpcHandlers, type InvokeEvent, type IpcHandler } from '../../../main/ipc.ts';

let dir: string;
let service: ApiService;
let session: ApiSession;
let table: Map<string, IpcHandler>;
const SENDER = 7;
const fromApp: InvokeEvent = { sender: { id: SENDER }, senderFrame: { url: 'hangar://app/index.html' } };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-ipc-'));
  service = new ApiService({
    containers: new ContainersService(join(dir, 'containers')),
    vms: new VmRunners(new VmLibrary(join(dir, 'vms')), machineParts),
    preferences: new FilePreferences(join(dir, 'preferences.json'), defaultPreferences({ HOME: dir })),
    version: '9.9.9',
  });
  session = service.connect(() => {});
  table = ipcHandlerTable((id) => (id === SENDER ? session : undefined));
});
after(() => {
  service.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the table has a handler for every channel of the API and for nothing else', () => {
  assert.deepEqual([...table.keys()].sort(), Object.keys(channels).sort());
  for (const name of ['containers:start', 'terminals:write', 'vms:create', 'vms:start', 'vms:save', 'vms:restoreSnapshot', 'vms:console', 'vms:clone']) {
    assert.ok(channelNames.includes(name as never) && table.has(name), name);
  }
  assert.equal([...table.keys()].filter((c) => c.startsWith('vms:')).length, channelNames.filter((c) => c.startsWith('vms:')).length);
  for (const name of table.keys()) assert.match(name, /^[a-z]+:[a-zA-Z]+$/);
});

test('registering puts every handler on ipcMain, and removing takes every one off', () => {
  const handled = new Set<string>();
  const remove = registerIpcHandlers({ handle: (c) => void handled.add(c), removeHandler: (c) => void handled.delete(c) }, table);
  assert.deepEqual([...handled].sort(), [...channelNames].sort());
  remove();
  assert.equal(handled.size, 0);
});

test('a call from the app page reaches the service and comes back as a value', async () => {
  const result = await table.get('preferences:get')!(fromApp, {});
  assert.equal(result.ok, true);
  assert.equal(result.ok && (result.value as { consoleFontSize: number }).consoleFontSize, 14);
});

test('a VM call reaches the VM library behind the service: an empty one, and a VM it does not hold', async () => {
  assert.deepEqual(await table.get('vms:list')!(fromApp, {}), { ok: true, value: [] });
  const missing = await table.get('vms:start')!(fromApp, { vm: 'nowhere' });
  assert.equal(missing.ok, false);
  assert.equal(!missing.ok && missing.error.code, 'not-found');
  assert.match(!missing.ok ? missing.error.message : '', /nowhere/);
});

test('malformed arguments are refused with the field named', async () => {
  const cases: [string, unknown, RegExp][] = [
    ['containers:start', { container: 5 }, /^containers:start\.container: expected a string, got number$/],
    ['containers:start', {}, /^containers:start\.container: expected a string, got undefined$/],
    ['containers:start', { container: 'x', rm: true }, /^containers:start: unknown field "rm"$/],
    ['containers:start', 'x', /^containers:start: expected an object, got string$/],
    ['containers:start', { container: 'x', cols: 1.5 }, /cols: expected a whole number/],
    ['containers:create', { image: 'busybox', env: ['NOT A PAIR'] }, /env\[0\]: "NOT A PAIR" is not KEY=VALUE/],
    ['preferences:set', { theme: 'purple' }, /theme: expected one of system, light, dark/],
    ['vms:create', { name: '-bad name' }, /^vms:create\.name: /],
    ['vms:create', { name: 'web', cpus: 9 }, /^vms:create\.cpus: /],
    ['vms:create', { name: 'web', memory: 1024 }, /^vms:create\.memory: /],
    ['vms:start', {}, /^vms:start\.vm: expected a string, got undefined$/],
    ['vms:stop', { vm: 'web', force: 'yes' }, /^vms:stop\.force: /],
    ['vms:snapshot', { vm: 'web', name: 'a', ram: true, operation: 'bad id!' }, /^vms:snapshot\.operation: /],
    ['vms:restoreSnapshot', { vm: 'web', snapshot: 's', saveCurrentAs: '' }, /^vms:restoreSnapshot\.saveCurrentAs: /],
    ['vms:console', { vm: 'web', cols: 80 }, /^vms:console\.rows: /],
  ];
  for (const [channel, args, message] of cases) {
    const result = await table.get(channel)!(fromApp, args);
    assert.equal(result.ok, false, channel);
    assert.equal(!result.ok && result.error.code, 'invalid-argument');
    assert.match(!result.ok ? result.error.message : '', message);
  }
});

test('an unknown channel has no handler, and the service refuses one by name', async () => {
  assert.equal(table.has('shell:exec'), false);
  const result = await session.call('shell:exec', { command: 'rm -rf /' });
  assert.deepEqual(result, { ok: false, error: { code: 'unsupported', message: 'unknown channel "shell:exec"' } });
});

test('callers other than the app page are refused', async () => {
  for (const event of [
    { sender: { id: SENDER }, senderFrame: { url: 'https://example.org/' } },
    { sender: { id: SENDER }, senderFrame: { url: 'hangar://app.evil/index.html' } },
    { sender: { id: SENDER }, senderFrame: null },
    { sender: { id: 99 }, senderFrame: { url: 'hangar://app/index.html' } },
  ]) {
    const result = await table.get('preferences:get')!(event, {});
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error.message : '', /not a Hangar window/);
  }
});
