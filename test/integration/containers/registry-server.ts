// Debian's docker-registry (distribution v2) on a free loopback port, and an HTTP front for it
// that adds what the tests need on top: basic or bearer-token authentication, and a blob
// download cut off half-way (to prove pulls resume).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RegistryProcess { host: string; stop(): Promise<void> }

export async function startRegistry(dir: string): Promise<RegistryProcess> {
  const port = await freePort();
  const config = join(dir, 'registry.yml');
  writeFileSync(config, [
    'version: 0.1',
    'log: { level: error }',
    `storage: { filesystem: { rootdirectory: ${join(dir, 'registry-data')} }, delete: { enabled: true } }`,
    `http: { addr: "127.0.0.1:${port}" }`,
  ].join('\n'));
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://${host}/v2/`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 100 || child.exitCode !== null) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host, stop: async () => { child.kill(); await new Promise((r) => child.once('exit', r)); } };
}

export interface FrontOptions {
  auth?: 'basic' | 'bearer';
  username?: string;
  password?: string;
  /** Cut the first download of blobs larger than this many bytes after half of them. */
  cutBlobsLargerThan?: number;
  /** Send half of blobs larger than this many bytes, then nothing more (a stalled download). */
  stallBlobsLargerThan?: number;
}

export interface Front {
  host: string;
  /** Range headers seen on blob downloads. */
  ranges: string[];
  tokensIssued: number;
  stop(): Promise<void>;
}

/** An authenticating (and optionally faulty) front for a registry. */
export async function startFront(registryHost: string, options: FrontOptions): Promise<Front> {
  const token = 'token-for-tests';
  const basic = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  const cut = new Set<string>();
  const front: Front = { host: '', ranges: [], tokensIssued: 0, stop: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/token')) {
      if (req.headers.authorization !== basic) { res.writeHead(401).end(); return; }
      front.tokensIssued++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
      return;
    }
    if (options.auth === 'basic' && req.headers.authorization !== basic) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="tests"' }).end();
      return;
    }
    if (options.auth === 'bearer' && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${front.host}/token",service="tests"` }).end();
      return;
    }
    const blob = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
    if (blob && req.method === 'GET' && req.headers.range) front.ranges.push(req.headers.range);
    const upstream = request({ host: '127.0.0.1', port: Number(registryHost.split(':')[1]), path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      const length = Number(up.headers['content-length'] ?? 0);
      const cutNow = options.cutBlobsLargerThan !== undefined && length > options.cutBlobsLargerThan && !cut.has(blob!);
      const stall = options.stallBlobsLargerThan !== undefined && length > options.stallBlobsLargerThan;
      if (blob && req.method === 'GET' && (cutNow || stall)) {
        cut.add(blob);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          const room = Math.floor(length / 2) - sent;
          if (room > 0) res.write(chunk.subarray(0, room));
          sent += chunk.length;
          if (sent >= length / 2) {
            up.destroy();
            if (cutNow) res.destroy();
          }
        });
        return;
      }
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  front.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  front.stop = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return front;
}
