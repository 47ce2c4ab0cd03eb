// The renderer's own logic: which toolbar actions a container's state allows, command lines
// split as a shell would (quotes, escapes), and CPU use from two samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerActions, splitCommand } from '../../../renderer/src/app/actions.ts';
import { cpuPercent, formatBytes } from '../../../renderer/src/app/format.ts';

test('toolbar actions follow the container state', () => {
  assert.deepEqual([...containerActions('running')].sort(), ['delete', 'pause', 'snapshot', 'stop', 'terminal']);
  assert.deepEqual([...containerActions('paused')].sort(), ['delete', 'resume', 'snapshot', 'stop']);
  assert.deepEqual([...containerActions('exited')].sort(), ['delete', 'restore', 'snapshot', 'start']);
  assert.equal(containerActions('created').has('pause'), false);
  // A snapshot is restored only while nothing runs (the engine refuses otherwise).
  assert.equal(containerActions('running').has('restore'), false);
});

test('command lines split into words as a shell would', () => {
  assert.deepEqual(splitCommand('sh -c "echo hello world"'), ['sh', '-c', 'echo hello world']);
  assert.deepEqual(splitCommand(`  echo 'a  b' c\\ d "x\\"y" ''  `), ['echo', 'a  b', 'c d', 'x"y', '']);
  assert.deepEqual(splitCommand(''), []);
  assert.throws(() => splitCommand('echo "open'), /unterminated " quote/);
});

test('CPU use is the CPU seconds spent over the seconds passed', () => {
  assert.equal(cpuPercent(undefined, { at: 1000, cpuSeconds: 5 }), undefined);
  assert.equal(cpuPercent({ at: 1000, cpuSeconds: 5 }, { at: 3000, cpuSeconds: 6 }), 50);
  assert.equal(cpuPercent({ at: 1000, cpuSeconds: 5 }, { at: 2000, cpuSeconds: 7 }), 200);
  assert.equal(formatBytes(64 << 20), '64 MiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
});

test('an engine error is shown by its code: a damaged file says so, a cancel is short, others as the engine wrote them', async () => {
  const { errorText } = await import('../../../renderer/src/app/errors.ts');
  const { ApiRequestError } = await import('../../../engine/api/client.ts');
  const corrupt = new ApiRequestError('vms:start', { code: 'corrupt', message: '/vms/x/state/a.hst: is truncated (4096 of 8192 bytes)' });
  assert.equal(errorText(corrupt, 'Start'), 'Damaged file: /vms/x/state/a.hst: is truncated (4096 of 8192 bytes)');
  assert.equal(errorText(new ApiRequestError('vms:save', { code: 'cancelled', message: 'cancelled' }), 'Suspend'), 'Suspend: cancelled.');
  assert.equal(errorText(new ApiRequestError('vms:start', { code: 'invalid-state', message: 'VM "x" is running' }), 'Start'), 'VM "x" is running');
  assert.equal(errorText(new Error('socket closed'), 'Start'), 'socket closed');
});
