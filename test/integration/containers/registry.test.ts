// The registry client against Debian's docker-registry on loopback: push and pull keep digests
// (by tag and by digest), manifest lists resolve to the host's platform, basic and bearer auth
// work, an interrupted download resumes, and plain HTTP stays on loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../../engine/containers/store.ts';
import { importArchive } from '../../../engine/containers/archive.ts';
import { RegistryClient } from '../../../engine/containers/registry.ts';
import { RegistryError } from '../../../engine/containers/errors.ts';
import { MEDIA } from '../../../engine/containers/oci.ts';
import { requireTools, scratchDir, writeBusyboxArchive } from './fixtures.ts';
import { startFront, startRegistry, type RegistryProcess } from './registry-server.ts';

let scratch: ReturnType<typeof scratchDir>;
let registry: RegistryProcess;
let source: ImageStore;
let digest: string;
let stores = 0;

before(async () => {
  requireTools();
  scratch = scratchDir('registry');
  registry = await startRegistry(scratch.dir);
  source = new ImageStore(join(scratch.dir, 'source'));
  await source.init();
  const archive = join(scratch.dir, 'busybox.tar');
  digest = await writeBusyboxArchive(archive);
  await importArchive(source, archive, undefined);
  await new RegistryClient(source, { insecure: true }).push('busybox:latest', `${registry.host}/tools/busybox:1`);
});
after(async () => {
  await registry?.stop();
  scratch.cleanup();
});

async function freshStore(): Promise<ImageStore> {
  const store = new ImageStore(join(scratch.dir, `store-${stores++}`));
  await store.init();
  return store;
}

test('push keeps the digest, as skopeo sees it in the registry', async () => {
  const pushed = await new RegistryClient(source, { insecure: true }).push('busybox:latest', `${registry.host}/tools/busybox:again`);
  assert.equal(pushed, digest);
  const info = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/tools/busybox:1`], { encoding: 'utf8' }));
  assert.equal(info.Digest, digest);
});

test('pull by tag and by digest keeps the digest, with progress', async () => {
  const store = await freshStore();
  const client = new RegistryClient(store, { insecureRegistries: [registry.host] });
  const progress: number[] = [];
  const byTag = await client.pull(`${registry.host}/tools/busybox:1`, { onProgress: (p) => progress.push(p.done ?? 0) });
  assert.equal(byTag.descriptor.digest, digest);
  assert.equal(byTag.name, `${registry.host}/tools/busybox:1`);
  assert.ok(progress.some((p) => p > 500_000), 'layer progress is reported');
  const byDigest = await client.pull(`${registry.host}/tools/busybox@${digest}`);
  assert.equal(byDigest.descriptor.digest, digest);
  assert.equal((await store.inspect(`${registry.host}/tools/busybox:1`)).digest, digest);
});

test('a manifest list resolves to this host\'s platform', async () => {
  const manifest = await source.inspect('busybox:latest');
  const index = {
    schemaVersion: 2, mediaType: MEDIA.index,
    manifests: [
      { mediaType: MEDIA.manifest, digest, size: (await source.readBlob(digest)).length, platform: { os: 'linux', architecture: 's390x' } },
      { mediaType: MEDIA.manifest, digest, size: (await source.readBlob(digest)).length, platform: { os: 'linux', architecture: manifest.architecture } },
    ],
  };
  const put = await fetch(`http://${registry.host}/v2/tools/busybox/manifests/multi`, { method: 'PUT', headers: { 'content-type': MEDIA.index }, body: JSON.stringify(index) });
  assert.equal(put.status, 201);
  const store = await freshStore();
  assert.equal((await new RegistryClient(store, { insecure: true }).pull(`${registry.host}/tools/busybox:multi`)).descriptor.digest, digest);
  await assert.rejects(
    new RegistryClient(store, { insecure: true, platform: { os: 'linux', architecture: 'riscv64' } }).pull(`${registry.host}/tools/busybox:multi`),
    /no image for linux\/riscv64/,
  );
});

test('basic auth: refused without credentials, works with them', async () => {
  const front = await startFront(registry.host, { auth: 'basic', username: 'ada', password: 'secret' });
  try {
    const store = await freshStore();
    await assert.rejects(new RegistryClient(store, { insecure: true }).pull(`${front.host}/tools/busybox:1`), /authentication required \(basic\)/);
    const wrong = new RegistryClient(store, { insecure: true, auth: { [front.host]: { username: 'ada', password: 'nope' } } });
    await assert.rejects(wrong.pull(`${front.host}/tools/busybox:1`), /access denied/);
    const client = new RegistryClient(store, { insecure: true, auth: { [front.host]: { username: 'ada', password: 'secret' } } });
    assert.equal((await client.pull(`${front.host}/tools/busybox:1`)).descriptor.digest, digest);
    assert.equal(await client.push(`${front.host}/tools/busybox:1`, `${front.host}/tools/copy:basic`), digest);
  } finally {
    await front.stop();
  }
});

test('bearer-token auth: a token from the realm, reused', async () => {
  const front = await startFront(registry.host, { auth: 'bearer', username: 'ada', password: 'secret' });
  try {
    const store = await freshStore();
    const client = new RegistryClient(store, { insecure: true, auth: { [front.host]: { username: 'ada', password: 'secret' } } });
    assert.equal((await client.pull(`${front.host}/tools/busybox:1`)).descriptor.digest, digest);
    assert.equal(front.tokensIssued, 1, 'one token serves the whole pull');
    assert.equal(await client.push(`${front.host}/tools/busybox:1`, `${front.host}/tools/copy:bearer`), digest);
  } finally {
    await front.stop();
  }
});

test('an interrupted layer download resumes where it stopped', async () => {
  const front = await startFront(registry.host, { cutBlobsLargerThan: 100_000 });
  try {
    const store = await freshStore();
    const client = new RegistryClient(store, { insecure: true });
    await assert.rejects(client.pull(`${front.host}/tools/busybox:1`), (err: Error) => err instanceof RegistryError && /interrupted after \d+ of \d+ bytes/.test(err.message));
    const layer = (await source.inspect('busybox:latest')).manifest.layers[0]!.digest;
    assert.ok(existsSync(store.partialPath(layer)), 'the partial download is kept');
    assert.equal((await client.pull(`${front.host}/tools/busybox:1`)).descriptor.digest, digest);
    assert.equal(front.ranges.length, 1);
    assert.match(front.ranges[0]!, /^bytes=[1-9]\d*-$/);
  } finally {
    await front.stop();
  }
});

test('a cancelled pull stops with an AbortError and names nothing', async () => {
  const store = await freshStore();
  const abort = new AbortController();
  const pull = new RegistryClient(store, { insecure: true }).pull(`${registry.host}/tools/busybox:1`, {
    signal: abort.signal, onProgress: (p) => { if ((p.done ?? 0) > 0) abort.abort(); },
  });
  await assert.rejects(pull, { name: 'AbortError' });
  assert.deepEqual(await store.list(), []);
});

test('plain HTTP only to loopback: refused for other hosts, not used unless allowed', async () => {
  const store = await freshStore();
  await assert.rejects(new RegistryClient(store, { insecure: true }).pull('registry.example.org/x:1'), /plain HTTP is only allowed for registries on loopback/);
  // Without --insecure the client speaks HTTPS, which the plain-HTTP registry cannot answer.
  await assert.rejects(new RegistryClient(store).pull(`${registry.host}/tools/busybox:1`), RegistryError);
});
