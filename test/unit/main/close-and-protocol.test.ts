// Closing with machines running (the choices and the API calls they make), and which file a
// hangar:// URL may serve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeActions, closeOptions, staysHeadless, type RunningMachine } from '../../../main/close.ts';
import { rendererFile } from '../../../main/protocol.ts';

const web: RunningMachine = { kind: 'container', id: 'c1', name: 'web' };
const debian: RunningMachine = { kind: 'vm', id: 'v1', name: 'debian' };

test('containers only: stop them, keep them running, or cancel', () => {
  assert.deepEqual(closeOptions([web]).map((o) => o.choice), ['power-off', 'keep-running', 'cancel']);
  assert.deepEqual(closeActions('power-off', [web]), [{ channel: 'containers:stop', args: { container: 'c1' } }]);
  assert.deepEqual(closeActions('keep-running', [web]), []);
  assert.equal(staysHeadless('keep-running', [web]), false);
});

test('VM choices appear only with the API channels that carry them out', () => {
  // Today's channel map has no vms: channels: a running VM could only be kept running.
  assert.deepEqual(closeOptions([debian, web]).map((o) => o.choice), ['keep-running', 'cancel']);
  const withVms = (name: string) => name === 'vms:save' || name === 'vms:stop';
  assert.deepEqual(closeOptions([debian, web], withVms).map((o) => o.label), ['Save state', 'Power off', 'Keep running headless', 'Cancel']);
  assert.deepEqual(closeActions('save', [debian, web]), [{ channel: 'vms:save', args: { vm: 'v1' } }]);
  assert.deepEqual(closeActions('power-off', [debian, web]), [
    { channel: 'vms:stop', args: { vm: 'v1' } },
    { channel: 'containers:stop', args: { container: 'c1' } },
  ]);
  assert.equal(staysHeadless('keep-running', [debian]), true);
  assert.equal(staysHeadless('save', [debian]), false);
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
