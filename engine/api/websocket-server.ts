// `hangar serve`'s server: the built renderer over HTTP and the service API over a WebSocket,
// on the loopback interface only. The socket requires the per-launch token (a browser gets it
// in the URL printed at start, after the #, so it is never sent in a request line or a
// Referer); a browser page must also come from this server's own origin, and every request
// must name this server as its Host (a DNS-rebinding page names its own).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SessionSource } from './service.ts';
import { contentSecurityPolicy, contentType, fileUnder } from './web-content.ts';
import { encode, parseCall } from './wire.ts';

export interface ServeOptions {
  service: SessionSource;
  /** The built renderer (renderer/dist); none for a headless engine (`hangar daemon`): the API only. */
  staticDir?: string;
  port?: number;
  /** Fixed for tests; otherwise random per launch. */
  token?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const API_PATH = '/api';
/** Largest message a client may send: vms:writeFile's 256 MiB as base64, and its envelope. */
const MAX_MESSAGE = 360 << 20;

function sameToken(given: string | null, token: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  let port = 0;
  const hosts = () => new Set([`${HOST}:${port}`, `localhost:${port}`]);

  const server = createServer((req, res) => void serveFile(req, res));
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE });

  async function serveFile(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = {
      'Content-Security-Policy': contentSecurityPolicy(`'self' ws://${HOST}:${port} ws://localhost:${port}`),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    };
    if (!hosts().has(req.headers.host ?? '')) {
      res.writeHead(421, headers).end('wrong host\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
      return;
    }
    const file = options.staticDir === undefined ? undefined : fileUnder(options.staticDir, new URL(req.url ?? '/', 'http://x').pathname);
    const info = file ? await stat(file).catch(() => undefined) : undefined;
    if (!info?.isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': contentType(file!), 'Content-Length': info.size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file!).pipe(res);
  }

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const origin = req.headers.origin;
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== API_PATH) return refuse('404 Not Found');
    if (!hosts().has(req.headers.host ?? '')) return refuse('421 Misdirected Request');
    if (origin !== undefined && !hosts().has(origin.replace(/^http:\/\//, ''))) return refuse('403 Forbidden');
    if (!sameToken(url.searchParams.get('token'), token)) return refuse('401 Unauthorized');
    sockets.handleUpgrade(req, socket, head, (ws) => attach(ws));
  });

  function attach(ws: WebSocket): void {
    const send = (text: string) => {
      if (ws.readyState === ws.OPEN) ws.send(text);
    };
    const session = options.service.connect((event) => send(encode({ type: 'event', event })));
    ws.on('message', async (data, isBinary) => {
      const call = isBinary ? undefined : parseCall(data.toString());
      if (!call) {
        ws.close(1003, 'expected a call message: {"type":"call","id":N,"channel":"domain:verb","args":{...}}');
        return;
      }
      send(encode({ type: 'result', id: call.id, result: await session.call(call.channel, call.args) }));
    });
    ws.on('close', () => session.close());
    ws.on('error', () => session.close());
  }

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, HOST, done);
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${HOST}:${port}/#token=${token}`,
    port,
    token,
    close: async () => {
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
