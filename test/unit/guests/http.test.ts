// Downloads from a mirror (a loopback HTTP server here): verified against the index's size and
// SHA256, cancellable, and never leaving a file that looks complete when they fail.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadFile, fetchBuffer } from '../../../engine/guests/http.ts';
import { HttpError, MismatchError } from '../../../engine/guests/errors.ts';

const BODY = Buffer.alloc(1 << 20, 0x5a);
const expected = { sha256: createHash('sha256').update(BODY).digest('hex'), size: BODY.length };

const server = createServer((req, res) => {
  if (req.url === '/file') { res.setHeader('content-length', BODY.length); res.end(BODY); return; }
  if (req.url === '/slow') {
    // Half the file, then nothing: only cancelling ends this download.
    res.setHeader('content-length', BODY.length);
    res.write(BODY.subarray(0, BODY.length / 2));
    return;
  }
  res.statusCode = 404;
  res.end('not here');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
after(() => { server.closeAllConnections(); server.close(); });

const folder = () => mkdtempSync(join(tmpdir(), 'hangar-dl-'));

test('downloadFile keeps a verified file and reports progress up to the total', async () => {
  const dir = folder();
  const seen: [number, number | undefined][] = [];
  await downloadFile(`${base}/file`, join(dir, 'x.deb'), expected, { onProgress: (done, total) => seen.push([done, total]) });
  assert.deepEqual(readFileSync(join(dir, 'x.deb')), BODY);
  assert.deepEqual(seen.at(-1), [BODY.length, BODY.length]);
  assert.deepEqual(seen[0], [0, BODY.length]);
  assert.deepEqual(readdirSync(dir), ['x.deb']);
});

test('a digest or size other than the index says: refused, nothing left behind', async () => {
  const dir = folder();
  await assert.rejects(downloadFile(`${base}/file`, join(dir, 'x.deb'), { ...expected, sha256: '0'.repeat(64) }, {}),
    (err: Error) => err instanceof MismatchError && /SHA256 [0-9a-f]{64}, the signed index gives 0{64}/.test(err.message));
  await assert.rejects(downloadFile(`${base}/file`, join(dir, 'x.deb'), { ...expected, size: 1000 }, {}), /longer than the 1000 bytes/);
  await assert.rejects(downloadFile(`${base}/file`, join(dir, 'x.deb'), { ...expected, size: BODY.length + 1 }, {}), /1048576 bytes, the signed index gives 1048577/);
  assert.deepEqual(readdirSync(dir), []);
});

test('an HTTP error names the URL and status', async () => {
  await assert.rejects(fetchBuffer(`${base}/missing`, {}), (err: Error) => err instanceof HttpError && err.status === 404 && err.message === `${base}/missing: HTTP 404 Not Found`);
});

test('cancelling mid-transfer rejects with AbortError and leaves no file, partial or complete', async () => {
  const dir = folder();
  const abort = new AbortController();
  const download = downloadFile(`${base}/slow`, join(dir, 'x.deb'), expected, {
    signal: abort.signal,
    onProgress: (done) => { if (done >= BODY.length / 2) abort.abort(); },
  });
  await assert.rejects(download, (err: Error) => err.name === 'AbortError');
  assert.equal(existsSync(join(dir, 'x.deb')), false);
  assert.deepEqual(readdirSync(dir), []);
});

test('fetchBuffer verifies when told what to expect', async () => {
  assert.deepEqual(await fetchBuffer(`${base}/file`, {}, expected), BODY);
  await assert.rejects(fetchBuffer(`${base}/file`, {}, { ...expected, sha256: 'f'.repeat(64) }), MismatchError);
});
