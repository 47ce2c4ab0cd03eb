// A client of the OCI distribution API (the Docker registry v2 protocol): pull and push by tag
// or digest, manifest lists resolved to this host's platform, bearer-token and basic auth,
// and layer downloads that resume from where an interrupted pull stopped. Everything that
// arrives is checked against its digest before the store accepts it.
//
// Transport: HTTPS, except registries on loopback when the caller allows plain HTTP
// (--insecure, or the configured list); plain HTTP to any other host is refused.
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { sha256Digest } from './digest.ts';
import { DigestMismatchError, InvalidImageError, RegistryError } from './errors.ts';
import {
  checkIndex, checkManifest, hostPlatform, INDEX_TYPES, MANIFEST_TYPES, MEDIA, parseJson, type Descriptor, type Platform,
} from './oci.ts';
import type { OperationOptions } from './operation.ts';
import { parseReference, repositoryName, storeName, type ImageReference } from './reference.ts';
import type { ImageStore, ResolvedImage } from './store.ts';

export interface Credentials { username: string; password: string }

export interface RegistryOptions {
  /** Allow plain HTTP to registries on loopback. */
  insecure?: boolean;
  /** Loopback registries (host:port) always allowed over plain HTTP. */
  insecureRegistries?: string[];
  /** Credentials by registry host:port. */
  auth?: Record<string, Credentials>;
  /** The platform to take from manifest lists (default: this host's). */
  platform?: Platform;
}

const DEFAULT_REGISTRY = 'registry-1.docker.io';
const ACCEPT = [MEDIA.manifest, MEDIA.index, MEDIA.dockerManifest, MEDIA.dockerManifestList].join(', ');
const MAX_MANIFEST = 4 << 20;
/** Token answers and error documents: small JSON. */
const MAX_DOCUMENT = 1 << 20;

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** Where a reference points on the network: base URL and repository path. */
interface Endpoint { registry: string; base: string; repository: string }

/** A request to the registry; the body is made afresh for each try (a retry after a 401 resends it). */
interface RegistryRequest {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  body?: () => BodyInit;
  scope: 'pull' | 'pull,push';
}

/**
 * A response body of at most `limit` bytes. The limit holds while the body streams in: an
 * announced Content-Length over it is refused before anything is read, and a body that runs past
 * it (no Content-Length, or a wrong one) is cut off there — never buffered whole first.
 */
async function readBounded(response: Response, limit: number, what: string): Promise<Buffer> {
  const tooLarge = () => new InvalidImageError(`${what}: larger than ${limit >> 20} MiB, refused`);
  const announced = Number(response.headers.get('content-length') ?? NaN);
  if (announced > limit) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = response.body?.getReader();
  try {
    for (;;) {
      const next = await reader?.read();
      if (!next || next.done) break;
      length += next.value.length;
      if (length > limit) throw tooLarge();
      chunks.push(next.value);
    }
  } finally {
    if (reader && length > limit) await reader.cancel().catch(() => { /* the connection is gone already */ });
  }
  return Buffer.concat(chunks, length);
}

const basicAuth = (c: Credentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

export class RegistryClient {
  /** Bearer tokens by registry and scope, reused across requests. */
  private readonly tokens = new Map<string, string>();

  constructor(private readonly store: ImageStore, private readonly options: RegistryOptions = {}) {}

  private endpoint(ref: ImageReference): Endpoint {
    const registry = ref.registry ?? DEFAULT_REGISTRY;
    const plain = isLoopback(registry) && (this.options.insecure || (this.options.insecureRegistries ?? []).includes(registry));
    if (this.options.insecure && !isLoopback(registry)) {
      throw new RegistryError(`${registry}: plain HTTP is only allowed for registries on loopback; others must use HTTPS`);
    }
    const repository = !ref.registry && !ref.repository.includes('/') ? `library/${ref.repository}` : ref.repository;
    return { registry, base: `${plain ? 'http' : 'https'}://${registry}/v2/${repository}`, repository };
  }

  /** One request with the auth dance: on 401, get a bearer token (or use basic credentials) and retry once. */
  private async request(endpoint: Endpoint, path: string, init: RegistryRequest, signal?: AbortSignal): Promise<Response> {
    const url = path.startsWith('http') ? path : `${endpoint.base}${path}`;
    const scopeKey = `${endpoint.registry} ${endpoint.repository} ${init.scope}`;
    const send = (authorization?: string) => {
      const headers = new Headers(init.headers);
      if (authorization) headers.set('authorization', authorization);
      const body = init.body?.();
      // Streamed bodies need half duplex in Node's fetch.
      const options = { method: init.method ?? 'GET', headers, body, signal, redirect: 'follow', duplex: 'half' } as RequestInit;
      return fetch(url, options).catch((err: Error) => {
        if (err.name === 'AbortError') throw err;
        throw new RegistryError(`${endpoint.registry}: ${(err.cause as Error)?.message ?? err.message}`);
      });
    };
    const cached = this.tokens.get(scopeKey);
    let response = await send(cached);
    if (response.status !== 401) return response;
    const challenge = response.headers.get('www-authenticate') ?? '';
    await response.body?.cancel();
    const credentials = this.options.auth?.[endpoint.registry];
    let authorization: string;
    if (/^basic/i.test(challenge)) {
      if (!credentials) throw new RegistryError(`${endpoint.registry}: authentication required (basic), and no credentials are configured`, 401);
      authorization = basicAuth(credentials);
    } else if (/^bearer/i.test(challenge)) {
      authorization = `Bearer ${await this.fetchToken(endpoint, challenge, init.scope, credentials, signal)}`;
    } else {
      throw new RegistryError(`${endpoint.registry}: authentication required, with an unsupported challenge "${challenge}"`, 401);
    }
    this.tokens.set(scopeKey, authorization);
    response = await send(authorization);
    if (response.status === 401) throw new RegistryError(`${endpoint.registry}: access denied (credentials rejected, or no ${init.scope} access to ${endpoint.repository})`, 401);
    return response;
  }

  private async fetchToken(endpoint: Endpoint, challenge: string, scope: string, credentials: Credentials | undefined, signal?: AbortSignal): Promise<string> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!params.realm) throw new RegistryError(`${endpoint.registry}: bearer challenge without a realm`);
    const realm = new URL(params.realm);
    if (realm.protocol !== 'https:' && !isLoopback(realm.host)) throw new RegistryError(`${endpoint.registry}: token service ${realm.origin} is not HTTPS`);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', `repository:${endpoint.repository}:${scope}`);
    const headers: Record<string, string> = {};
    if (credentials) headers.authorization = basicAuth(credentials);
    const response = await fetch(realm, { headers, signal }).catch((err: Error) => {
      if (err.name === 'AbortError') throw err;
      throw new RegistryError(`${endpoint.registry}: token service ${realm.origin}: ${(err.cause as Error)?.message ?? err.message}`);
    });
    if (!response.ok) throw new RegistryError(`${endpoint.registry}: the token service refused (${response.status})`, response.status);
    let body: { token?: string; access_token?: string };
    try {
      body = JSON.parse((await readBounded(response, MAX_DOCUMENT, `${endpoint.registry}: token`)).toString('utf8')) as typeof body;
    } catch (err) {
      throw new RegistryError(`${endpoint.registry}: the token service sent no valid token document (${(err as Error).message})`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`${endpoint.registry}: the token service sent no token`);
    return token;
  }

  private async fail(endpoint: Endpoint, response: Response, what: string): Promise<never> {
    let detail = '';
    try {
      const body = JSON.parse((await readBounded(response, MAX_DOCUMENT, 'error document')).toString('utf8')) as { errors?: { code: string; message: string }[] };
      detail = body.errors?.map((e) => `${e.code}: ${e.message}`).join('; ') ?? '';
    } catch { /* not a registry error document */ }
    throw new RegistryError(`${endpoint.registry}/${endpoint.repository}: ${what}: HTTP ${response.status}${detail ? ` (${detail})` : ''}`, response.status);
  }

  /** GETs a manifest or index and checks it against the digest asked for (or announced). */
  private async getManifest(endpoint: Endpoint, reference: string, signal?: AbortSignal): Promise<{ data: Buffer; descriptor: Descriptor }> {
    const response = await this.request(endpoint, `/manifests/${reference}`, { headers: { accept: ACCEPT }, scope: 'pull' }, signal);
    if (!response.ok) await this.fail(endpoint, response, `manifest ${reference}`);
    const data = await readBounded(response, MAX_MANIFEST, `${endpoint.repository}: manifest ${reference}`);
    const digest = sha256Digest(data);
    const expected = reference.startsWith('sha256:') ? reference : response.headers.get('docker-content-digest') ?? undefined;
    if (expected && expected !== digest) throw new DigestMismatchError(`${endpoint.repository}: manifest ${reference}`, expected, digest);
    const mediaType = (parseJson(data, 'manifest') as { mediaType?: string }).mediaType ?? response.headers.get('content-type') ?? MEDIA.manifest;
    return { data, descriptor: { mediaType, digest, size: data.length } };
  }

  /** Pulls an image (by tag or digest) into the store under its name. */
  async pull(text: string, options: OperationOptions = {}): Promise<ResolvedImage> {
    const ref = parseReference(text);
    const endpoint = this.endpoint(ref);
    const fetched: string[] = [];
    try {
      let { data, descriptor } = await this.getManifest(endpoint, ref.digest ?? ref.tag ?? 'latest', options.signal);
      if (INDEX_TYPES.includes(descriptor.mediaType)) {
        const platform = this.options.platform ?? hostPlatform();
        const index = checkIndex(parseJson(data, 'index'), `${text}: index`);
        const match = index.manifests.find((d) => d.platform?.os === platform.os && d.platform.architecture === platform.architecture && (!platform.variant || d.platform.variant === platform.variant));
        if (!match) throw new InvalidImageError(`${text}: no image for ${platform.os}/${platform.architecture} in the manifest list`);
        ({ data, descriptor } = await this.getManifest(endpoint, match.digest, options.signal));
      }
      if (!MANIFEST_TYPES.includes(descriptor.mediaType)) throw new InvalidImageError(`${text}: unsupported manifest type ${descriptor.mediaType}`);
      const manifest = checkManifest(parseJson(data, 'manifest'), `${text}: manifest`);
      const blobs = [manifest.config, ...manifest.layers];
      const total = blobs.reduce((s, b) => s + b.size, 0);
      let before = 0;
      for (const blob of blobs) {
        const base = before;
        if (await this.download(endpoint, blob, { signal: options.signal, onProgress: (p) => options.onProgress?.({ ...p, done: base + (p.done ?? 0), total }) })) fetched.push(blob.digest);
        before += blob.size;
      }
      await this.store.ingest(data, { digest: descriptor.digest, what: `${text}: manifest` });
      fetched.push(descriptor.digest);
      return await this.store.setName(storeName(ref), descriptor, options);
    } catch (err) {
      await this.store.collectGarbage(fetched);
      throw err;
    }
  }

  /** Downloads one blob, resuming a partial download left by an interrupted pull; false when already stored. */
  private async download(endpoint: Endpoint, blob: Descriptor, options: OperationOptions): Promise<boolean> {
    if (await this.store.hasBlob(blob.digest)) return false;
    const partial = this.store.partialPath(blob.digest);
    let have = (await fs.stat(partial).catch(() => undefined))?.size ?? 0;
    if (have > blob.size) { await fs.rm(partial); have = 0; }
    const response = await this.request(endpoint, `/blobs/${blob.digest}`, { headers: have ? { range: `bytes=${have}-` } : {}, scope: 'pull' }, options.signal);
    if (!response.ok) await this.fail(endpoint, response, `blob ${blob.digest}`);
    if (response.status !== 206) have = 0; // the registry sends the whole blob: start over
    const handle = await fs.open(partial, have ? 'a' : 'w');
    let done = have;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        await handle.write(chunk);
        done += chunk.length;
        if (done > blob.size) throw new InvalidImageError(`blob ${blob.digest}: the registry sent more than its ${blob.size} bytes`);
        options.onProgress?.({ phase: 'pull', item: blob.digest, done, total: blob.size });
      }
    } catch (err) {
      if ((err as Error).name === 'AbortError' || err instanceof InvalidImageError) throw err;
      throw new RegistryError(`${endpoint.registry}: download of ${blob.digest} interrupted after ${done} of ${blob.size} bytes (pull again to resume)`);
    } finally {
      await handle.close();
    }
    try {
      await this.store.ingestFile(partial, { digest: blob.digest, size: blob.size, what: `blob ${blob.digest}` });
    } catch (err) {
      await fs.rm(partial, { force: true });
      throw err;
    }
    return true;
  }

  /** Pushes a stored image to REF (a tag, or the image's own digest); returns the manifest digest. */
  async push(name: string, target: string, options: OperationOptions = {}): Promise<string> {
    const image = await this.store.resolve(name);
    const ref = parseReference(target);
    if (ref.digest && ref.digest !== image.descriptor.digest) {
      throw new InvalidImageError(`${target}: the digest is not ${image.name}'s (${image.descriptor.digest})`);
    }
    const endpoint = this.endpoint(ref);
    const blobs = [image.manifest.config, ...image.manifest.layers];
    const total = blobs.reduce((s, b) => s + b.size, 0);
    let before = 0;
    for (const blob of blobs) {
      const base = before;
      await this.upload(endpoint, blob, { signal: options.signal, onProgress: (p) => options.onProgress?.({ ...p, done: base + (p.done ?? 0), total }) });
      before += blob.size;
    }
    const manifest = await this.store.readBlob(image.descriptor.digest);
    const response = await this.request(endpoint, `/manifests/${ref.digest ?? ref.tag ?? 'latest'}`, {
      method: 'PUT', headers: { 'content-type': image.descriptor.mediaType }, body: () => new Uint8Array(manifest), scope: 'pull,push',
    }, options.signal);
    if (!response.ok) await this.fail(endpoint, response, `manifest upload to ${repositoryName(ref)}`);
    await response.body?.cancel();
    const digest = response.headers.get('docker-content-digest');
    if (digest && digest !== image.descriptor.digest) throw new DigestMismatchError(`${target}: the registry's manifest`, image.descriptor.digest, digest);
    return image.descriptor.digest;
  }

  private async upload(endpoint: Endpoint, blob: Descriptor, options: OperationOptions): Promise<void> {
    const head = await this.request(endpoint, `/blobs/${blob.digest}`, { method: 'HEAD', scope: 'pull,push' }, options.signal);
    if (head.ok) return options.onProgress?.({ phase: 'push', item: blob.digest, done: blob.size, total: blob.size });
    const start = await this.request(endpoint, '/blobs/uploads/', { method: 'POST', scope: 'pull,push' }, options.signal);
    if (start.status !== 202) await this.fail(endpoint, start, `upload of ${blob.digest}`);
    await start.body?.cancel();
    const location = new URL(start.headers.get('location') ?? '', endpoint.base);
    if (location.origin !== new URL(endpoint.base).origin) throw new RegistryError(`${endpoint.registry}: upload location on another host (${location.origin})`);
    location.searchParams.set('digest', blob.digest);
    const file = this.store.blobPath(blob.digest);
    const counted = async function* () {
      let done = 0;
      for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
        done += chunk.length;
        options.onProgress?.({ phase: 'push', item: blob.digest, done, total: blob.size });
        yield chunk;
      }
    };
    const response = await this.request(endpoint, location.toString(), {
      method: 'PUT', scope: 'pull,push',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: () => Readable.toWeb(Readable.from(counted())) as ReadableStream,
    }, options.signal);
    if (response.status !== 201) await this.fail(endpoint, response, `upload of ${blob.digest}`);
    await response.body?.cancel();
  }
}
