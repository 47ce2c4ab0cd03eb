// Closing with machines running (which ones, the choices and the API calls they make), and which file a
// hangar:// URL may serve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channels, type ContainerInfo, type VmListEntry, type VmRunState } from '../../../engine/api/channels.ts';
import { closeActions, closeOptions, runningMachines, staysHeadless, type RunningMachine } from '../../../main/close.ts';
import { rendererFile } from '../../../main/protocol.ts';

const web: RunningMachine = { kind: 'container', id: 'c1', name: 'web' };
const debian: RunningMachine = { kind: 'vm', id: 'v1', name: 'debian' };

test('containers only: stop them, keep them running, or cancel', () => {
  assert.deepEqual(closeOptions([web]).map((o) => o.choice), ['power-off', 'keep-running', 'cancel']);
  assert.deepEqual(closeActions('power-off', [web]), [{ channel: 'containers:stop', args: { container: 'c1' } }]);
  assert.deepEqual(closeActions('keep-running', [web]), []);
  assert.equal(staysHeadless('keep-running', [web]), false);
});

test('with a VM running: save state, power off, keep running headless, or cancel', () => {
  assert.deepEqual(closeOptions([debian, web]).map((o) => o.label), ['Save state', 'Power off', 'Keep running headless', 'Cancel']);
  // Saving is for VMs; the containers go on under their own monitors.
  assert.deepEqual(closeActions('save', [debian, web]), [{ channel: 'vms:save', args: { vm: 'v1' } }]);
  assert.deepEqual(closeActions('power-off', [debian, web]), [
    { channel: 'vms:stop', args: { vm: 'v1' } },
    { channel: 'containers:stop', args: { container: 'c1' } },
  ]);
  assert.equal(staysHeadless('keep-running', [debian]), true);
  assert.equal(staysHeadless('save', [debian]), false);
  // Every call a choice makes is a channel of the API, with arguments its schema accepts.
  for (const choice of ['save', 'power-off'] as const) {
    for (const action of closeActions(choice, [debian, web])) {
      assert.doesNotThrow(() => channels[action.channel].args.check(action.args, action.channel), action.channel);
    }
  }
});

test('the machines asked about: VMs whose machine runs here, containers running or paused', () => {
  const vm = (id: string, state: VmRunState): VmListEntry => ({ id, name: `vm-${id}`, state });
  const container = (id: string, status: ContainerInfo['status']) => ({ id, name: `ct-${id}`, status }) as ContainerInfo;
  const states: VmRunState[] = ['powered-off', 'saved', 'starting', 'running', 'paused', 'saving', 'stopping', 'invalid'];
  const found = runningMachines(states.map((s, i) => vm(String(i), s)), [container('a', 'created'), container('b', 'running'), container('c', 'paused'), container('d', 'exited')]);
  assert.deepEqual(found, [
    { kind: 'vm', id: '2', name: 'vm-2' },
    { kind: 'vm', id: '3', name: 'vm-3' },
    { kind: 'vm', id: '4', name: 'vm-4' },
    { kind: 'container', id: 'b', name: 'ct-b' },
    { kind: 'container', id: 'c', name: 'ct-c' },
  ]);
});

test('hangar://app/ serves files of the built renderer only', () => {
  const dist = '/opt/hangar/renderer/dist';
  assert.deepEqual(rendererFile('hangar://app/', dist), { path: `${dist}/index.html`, type: 'text/html; charset=utf-8' });
  assert.deepEqual(rendererFile('hangar://app/assets/index-1.js', dist), { path: `${dist}/assets/index-1.js`, type: 'text/javascript; charset=utf-8' });
  // A URL's own dot segments are resolved within it: they never leave the root.
  assert.equal(rendererFile('hangar://app/../../etc/passwd', dist)?.path, `${dist}/etc/passwd`);
  assert.equal(rendererFile('hangar://app/%2e%2e/%2e%2e/etc/passwd', dist)?.path, `${dist}/etc/passwd`);
  // Encoded slashes are decoded after that: a path that then climbs out is refused.
  for (const url of ['hangar://app/assets/%2e%2e%2f..%2f..%2fmain.js', 'hangar://app/..%2f..%2fetc%2fpasswd', 'hangar://other/index.html', 'file:///etc/passwd', 'hangar://app/%E0%A4%A', 'not a url']) {
    assert.equal(rendererFile(url, dist), undefined, url);
  }
});
