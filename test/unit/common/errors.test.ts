// The error model's round trip: what serializeError makes crosses postMessage (a real worker
// thread) and JSON (the WebSocket wire) and reviveError gives back the same code, message,
// details and name; a foreign or missing code becomes `failed`, an AbortError `cancelled`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, HangarError, reviveError, serializeError, type SerializedError } from '../../../engine/common/errors.ts';
import { decode, encode } from '../../../engine/api/wire.ts';
import { StateFileError } from '../../../engine/machine/errors.ts';
import { VmNotFoundError } from '../../../engine/vm/errors.ts';

/** `value` as another thread receives it (structured clone through a real worker's port). */
async function throughThread(value: SerializedError): Promise<SerializedError> {
  const worker = new Worker("require('node:worker_threads').parentPort.on('message', (m) => { require('node:worker_threads').parentPort.postMessage(m); process.exit(0); });", { eval: true });
  try {
    const echoed = new Promise<SerializedError>((resolve) => worker.once('message', resolve));
    worker.postMessage(value);
    return await echoed;
  } finally {
    await worker.terminate();
  }
}

test('every code, with details, survives a thread and the wire and is revived as a HangarError', async () => {
  for (const code of ERROR_CODES) {
    const original = new HangarError(code, `refused: ${code}`, { details: { path: '/x.hst', offset: 64 } });
    const crossed = await throughThread(serializeError(original));
    const wired = (decode(encode({ type: 'result', id: 1, result: { ok: false, error: crossed } })) as { result: { error: SerializedError } }).result.error;
    const revived = reviveError(wired);
    assert.ok(revived instanceof HangarError);
    assert.deepEqual([revived.code, revived.message, revived.details, revived.name], [code, `refused: ${code}`, { path: '/x.hst', offset: 64 }, 'HangarError']);
  }
});

test('a domain class keeps its code and its name across', async () => {
  const revived = reviveError(await throughThread(serializeError(new StateFileError('saved.hst: checksum mismatch: the file is damaged'))));
  assert.deepEqual([revived.code, revived.name, revived.message], ['corrupt', 'StateFileError', 'saved.hst: checksum mismatch: the file is damaged']);
  assert.deepEqual(serializeError(new VmNotFoundError('no VM named "x"')), { code: 'not-found', message: 'no VM named "x"', name: 'VmNotFoundError' });
});

test('what is not a HangarError: an AbortError is cancelled, an Error or a thrown string failed', () => {
  const aborted = new AbortController();
  aborted.abort();
  assert.deepEqual(serializeError(aborted.signal.reason), { code: 'cancelled', message: 'cancelled', name: 'AbortError' });
  assert.deepEqual(serializeError(new RangeError('disk 0: too small')), { code: 'failed', message: 'disk 0: too small', name: 'RangeError' });
  assert.deepEqual(serializeError('a string'), { code: 'failed', message: 'a string' });
});

test('a code this engine does not have, or garbage details, revive as failed without details', () => {
  const revived = reviveError({ code: 'exploded' as never, message: 'from a newer engine', details: 'not an object' as never });
  assert.deepEqual([revived.code, revived.message, revived.details], ['failed', 'from a newer engine', undefined]);
});
