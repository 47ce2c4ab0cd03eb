// A registry's manifest is bounded (4 MiB) while it streams in, not after it was buffered whole:
// a loopback server offers 64 MiB manifests without a Content-Length, with an honest one over
// the limit, and with one that lies (under the limit, the body going on past it). Each pull is
// refused with a clear error, and the server could push out no more than the limit plus what
// the sockets buffer before the client hung up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ContainerError, InvalidImageError } from '../../../engine/containers/errors.ts';
import { RegistryClient } from '../../../engine/containers/registry.ts';
import { ImageStore } from '../../../engine/containers/store.ts';
import { scratchDir } from '../../integration/containers/fixtures.ts';

const OFFERED = 64 << 20;
const CHUNK = Buffer.alloc(1 << 16, 0x20); // JSON whitespace: the body is "valid" as far as it goes

let scratch: ReturnType<typeof scratchDir>;
let server: Server;
let host: string;
/** Bytes the server managed to write, by request path. */
const sent = new Map<string, number>();

before(async () => {
  scratch = scratchDir('registry-limits');
  server = createServer(async (req, res) => {
    const path = req.url ?? '';
    const headers: Record<string, string> = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
    if (path.endsWith('/announced')) headers['content-length'] = String(OFFERED);
    if (path.endsWith('/lying')) headers['content-length'] = String(2 << 20);
    res.writeHead(200, headers);
    let written = 0;
    res.on('close', () => sent.set(path, written));
    while (written < OFFERED && !res.destroyed) {
      const more = res.write(CHUNK);
      written += CHUNK.length;
      if (!more) await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  scratch.cleanup();
});

for (const [kind, form] of [['chunked', 'no Content-Length'], ['announced', 'a Content-Length over the limit'], ['lying', 'a Content-Length under the limit and a longer body']] as const) {
  test(`an oversized manifest with ${form} is refused while it streams`, async () => {
    const store = new ImageStore(join(scratch.dir, kind));
    await store.init();
    const client = new RegistryClient(store, { insecure: true });
    const started = Date.now();
    await assert.rejects(client.pull(`${host}/big:${kind}`), (err: Error) => {
      assert.ok(err instanceof ContainerError, `a containers error, not ${err.name}: ${err.message}`);
      if (kind !== 'lying') assert.ok(err instanceof InvalidImageError && /big: manifest .*: larger than 4 MiB, refused/.test(err.message), err.message);
      else console.log(`lying: ${err.message}`);
      return true;
    });
    for (let i = 0; i < 100 && !sent.has(`/v2/big/manifests/${kind}`); i++) await new Promise((r) => setTimeout(r, 20));
    const written = sent.get(`/v2/big/manifests/${kind}`) ?? 0;
    console.log(`${kind}: refused after ${Date.now() - started} ms, the server wrote ${(written / 2 ** 20).toFixed(1)} of ${OFFERED >> 20} MiB`);
    assert.ok(written < 24 << 20, `the client stopped reading early (${written} bytes written)`);
    assert.deepEqual(await store.list(), []);
  });
}
