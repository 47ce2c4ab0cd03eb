// `hangar serve`'s server on loopback: the renderer's files with a strict CSP, nothing outside
// them, requests naming another host refused, and the API socket only with the launch's
// token and from the server's own origin; calls and events cross it as on any transport.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { defaultPreferences, FilePreferences } from '../../../engine/api/preferences-store.ts';
import { ApiService } from '../../../engine/api/service.ts';
import { serve, type RunningServer } from '../../../engine/api/websocket-server.ts';
import { decode, encode, type ServerMessage } from '../../../engine/api/wire.ts';
import { ContainersService } from '../../../engine/containers/index.ts';

let dir: string;
let service: ApiService;
let server: RunningServer;
const TOKEN = 'test-token-0123456789';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-ws-'));
  const dist = join(dir, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Hangar</title>');
  writeFileSync(join(dist, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'not for the browser');
  service = new ApiService({
    containers: new ContainersService(join(dir, 'containers')),
    preferences: new FilePreferences(join(dir, 'preferences.json'), defaultPreferences({ HOME: dir })),
    version: '0.0.1',
  });
  server = await serve({ service, staticDir: dist, token: TOKEN });
});
after(async () => {
  await server.close();
  service.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a socket; resolves with it open, or with the HTTP status it was refused with. */
function open(query: string, headers: Record<string, string> = {}): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api${query}`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode!));
    ws.once('error', () => resolve(0));
  });
}

test('the printed URL is loopback, with the token after the #', () => {
  assert.equal(server.url, `http://127.0.0.1:${server.port}/#token=${TOKEN}`);
});

test('the renderer\'s files are served with a strict CSP, and nothing else is', async () => {
  const index = await get('/');
  assert.equal(index.status, 200);
  assert.equal(index.body, '<!doctype html><title>Hangar</title>');
  assert.match(String(index.headers['content-security-policy']), /script-src 'self';.*frame-ancestors 'none'/);
  assert.equal(index.headers['x-content-type-options'], 'nosniff');
  assert.equal((await get('/assets/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal((await get('/../secret.txt')).status, 404);
  assert.equal((await get('/%2e%2e/secret.txt')).status, 404);
  assert.equal((await get('/assets/..%2f..%2fsecret.txt')).status, 404);
  assert.equal((await get('/%E0%A4%A')).status, 404);
  assert.equal((await get('/', { Host: 'attacker.example:80' })).status, 421);
});

test('the API socket needs the token, this server as Host, and this server\'s origin', async () => {
  assert.equal(await open(''), 401);
  assert.equal(await open('?token=wrong-token-0123456789'), 401);
  assert.equal(await open(`?token=${TOKEN}`, { Origin: 'http://attacker.example' }), 403);
  assert.equal(await open(`?token=${TOKEN}`, { Host: 'attacker.example' }), 421);
  const ws = await open(`?token=${TOKEN}`, { Origin: `http://127.0.0.1:${server.port}` });
  assert.ok(ws instanceof WebSocket);
  ws.close();
});

test('calls get results by id, events arrive, and a message that is not a call closes the socket', async () => {
  const ws = await open(`?token=${TOKEN}`) as WebSocket;
  const messages: ServerMessage[] = [];
  ws.on('message', (data) => messages.push(decode(data.toString()) as ServerMessage));
  const until = async (check: () => boolean) => { while (!check()) await new Promise((r) => setTimeout(r, 10)); };

  ws.send(encode({ type: 'call', id: 1, channel: 'preferences:set', args: { theme: 'light' } }));
  ws.send(encode({ type: 'call', id: 2, channel: 'nope:never', args: {} }));
  await until(() => messages.filter((m) => m.type === 'result').length === 2);
  const results = new Map(messages.flatMap((m) => (m.type === 'result' ? [[m.id, m.result]] as const : [])));
  assert.equal(results.get(1)?.ok && (results.get(1) as { value: { theme: string } }).value.theme, 'light');
  assert.deepEqual(results.get(2), { ok: false, error: { code: 'unsupported', message: 'unknown channel "nope:never"' } });
  assert.ok(messages.some((m) => m.type === 'event' && m.event.type === 'preferences:changed'));

  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.send('{"type":"hello"}');
  assert.equal(await closed, 1003);
});
