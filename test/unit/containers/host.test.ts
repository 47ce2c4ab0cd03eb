// Containers need a Linux host: elsewhere the service refuses with a clear error, before it
// touches anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerRuntime } from '../../../engine/containers/runtime.ts';
import { NotLinuxError } from '../../../engine/containers/errors.ts';
import { defaultContainersRoot } from '../../../engine/containers/operation.ts';
import { scratchDir } from '../../integration/containers/fixtures.ts';

test('on a host that is not Linux, the runtime says containers need Linux', async () => {
  const { dir, cleanup } = scratchDir('host');
  const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
  Object.defineProperty(process, 'platform', { value: 'darwin' });
  try {
    await assert.rejects(new ContainerRuntime(join(dir, 'root')).init(), (err: Error) => err instanceof NotLinuxError && /containers need a Linux host \(this is darwin\)/.test(err.message));
    assert.equal(existsSync(join(dir, 'root')), false);
  } finally {
    Object.defineProperty(process, 'platform', platform);
    cleanup();
  }
});

test('the default root is $HANGAR_HOME/containers, HANGAR_HOME defaulting to ~/.local/share/hangar', () => {
  assert.equal(defaultContainersRoot({ HANGAR_HOME: '/data/h', HOME: '/home/u' }), '/data/h/containers');
  assert.equal(defaultContainersRoot({ HOME: '/home/u' }), '/home/u/.local/share/hangar/containers');
});
