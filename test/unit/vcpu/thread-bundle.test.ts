// The bundles worker threads start from: TypeScript runs without a loader in the thread, and
// every module keeps its own import.meta.url (the core finds its wasm, the state file format
// its package.json, next to their sources).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { bundledThread } from '../../../engine/vcpu/thread-bundle.ts';

test('a bundled entry runs in a plain worker, each module with its own import.meta.url', async () => {
  const entry = new URL('./fixtures/thread-entry.ts', import.meta.url);
  const script = await bundledThread(entry);
  assert.equal(script.protocol, 'data:');
  assert.equal(await bundledThread(entry), script, 'bundled once per process');
  const worker = new Worker(script);
  const [message] = await once(worker, 'message');
  assert.deepEqual(message, {
    typed: 42,
    here: new URL('./fixtures/', import.meta.url).href,
    nestedHere: new URL('./fixtures/nested/', import.meta.url).href,
  });
  await once(worker, 'exit');
});
