// A refused layer leaves no file descriptor open: a daemon refusing hostile layers all day must
// not run into EMFILE. Counted in /proc/self/fd around 200 refusals of each kind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256Digest } from '../../../engine/containers/digest.ts';
import { InvalidImageError } from '../../../engine/containers/errors.ts';
import { LayerApplier, verifyLayer } from '../../../engine/containers/layer.ts';
import { scratchDir, tarBuffer } from '../../integration/containers/fixtures.ts';

let scratch: ReturnType<typeof scratchDir>;
before(() => { scratch = scratchDir('layer-fds'); });
after(() => scratch.cleanup());

/** Open descriptors, once the closes already asked for (a destroyed stream's) have happened. */
async function openDescriptors(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return readdirSync('/proc/self/fd').length;
}
const padding = Array.from({ length: 64 }, (_, i) => ({ entry: { path: `after/${i}`, type: 'file' as const }, body: Buffer.alloc(4096, i) }));

test('200 refused layers of each kind leave no descriptor open', async () => {
  const unsafe = await tarBuffer([{ entry: { path: '../escape', type: 'file' }, body: Buffer.from('x') }, ...padding]);
  const entries = await tarBuffer(padding.slice(0, 2));
  const garbage = Buffer.concat([entries.subarray(0, entries.length - 1024), Buffer.alloc(1 << 16, 0x41)]);
  const layers = {
    'unsafe path (plain)': unsafe,
    'unsafe path (gzip)': gzipSync(unsafe),
    'bad checksum': Buffer.concat([Buffer.alloc(512, 0x41), unsafe]),
    'corrupt gzip': Buffer.concat([gzipSync(unsafe).subarray(0, 200), Buffer.alloc(4096, 0x55)]),
    'garbage after two entries': garbage,
  };
  const root = join(scratch.dir, 'root');
  mkdirSync(root);
  const applier = new LayerApplier(root);
  for (const [kind, data] of Object.entries(layers)) {
    const blob = join(scratch.dir, `${kind}.layer`);
    writeFileSync(blob, data);
    await assert.rejects(verifyLayer(blob, sha256Digest(data), kind), InvalidImageError); // warm-up: lazily opened descriptors
    const before = await openDescriptors();
    for (let i = 0; i < 100; i++) {
      await assert.rejects(verifyLayer(blob, sha256Digest(data), kind), InvalidImageError);
      await assert.rejects(applier.apply(blob, sha256Digest(data), kind), InvalidImageError);
    }
    assert.equal(await openDescriptors(), before, `${kind}: descriptors open before and after 200 refusals`);
  }
});
