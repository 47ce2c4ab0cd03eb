// The gateway's DNS server (RFC 1035) on the DNS address, UDP port 53. A queries are answered
// through the host's own resolver, dns.lookup (getaddrinfo), so /etc/hosts, VPN and split DNS
// set-ups resolve in the guest as on the host. AAAA queries get an empty NOERROR answer (the
// guest network has no IPv6, and an empty answer makes resolvers fall back to A at once);
// queries of other types (MX, TXT, SRV, PTR, ...) are forwarded as they are to the host's
// first IPv4 resolver (dns.getServers(), the servers dns.Resolver uses) from one socket, with
// an id of ours, and the answer goes back with the guest's id (at most MAX_FORWARDED waiting,
// FORWARD_TIMEOUT_MS each; an answer larger than the guest's UDP room is dropped). Other
// classes and opcodes get NOTIMP, a malformed query FORMERR, a non-query nothing.
//
// dns.lookup runs on libuv's small thread pool, which the process's file I/O shares: at most
// MAX_LOOKUPS run at a time and at most MAX_WAITING more wait; further queries are dropped (a
// resolver retries).
import { getServers, lookup } from 'node:dns';
import { createSocket, type Socket } from 'node:dgram';
import { parseIp } from './frames.ts';

const HEADER = 12;
/** RFC 1035 §4.2.1: a UDP answer without EDNS fits in 512 bytes. */
const MAX_UDP_MESSAGE = 512;
const MAX_NAME = 255;
const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const ANSWER_TTL = 60;
const MAX_LOOKUPS = 2;
const MAX_WAITING = 32;
const MAX_FORWARDED = 32;
const FORWARD_TIMEOUT_MS = 5000;
const DNS_PORT = 53;

export const enum Rcode { NoError = 0, FormErr = 1, ServFail = 2, NxDomain = 3, NotImp = 4 }

export interface DnsQuestion {
  id: number;
  /** The query's RD bit, echoed in the answer. */
  recursionDesired: boolean;
  name: string;
  type: number;
  class: number;
  /** The question section's bytes, copied into the answer. */
  question: Uint8Array;
}

/** A query (QR 0, standard opcode, one question), or the rcode to refuse it with, or null: send nothing. */
export function parseDnsQuery(bytes: Uint8Array): DnsQuestion | { id: number; rcode: Rcode } | null {
  if (bytes.length < HEADER) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = v.getUint16(0);
  const flags = v.getUint16(2);
  if (flags & 0x8000) return null; // a response: never answer one (no reflection loops)
  if ((flags >> 11) & 0xf) return { id, rcode: Rcode.NotImp };
  if (v.getUint16(4) !== 1) return { id, rcode: Rcode.FormErr };
  const labels: string[] = [];
  let at = HEADER;
  for (let nameLength = 1; ;) {
    if (at >= bytes.length) return { id, rcode: Rcode.FormErr };
    const length = bytes[at++];
    if (length === 0) break;
    // A question's name is never compressed (0xc0: a pointer; 0x40, 0x80: reserved label types).
    if (length > 63 || at + length > bytes.length || (nameLength += length + 1) > MAX_NAME) return { id, rcode: Rcode.FormErr };
    const label = bytes.subarray(at, at + length);
    // Host names only: printable ASCII without dots or spaces (getaddrinfo would read them otherwise).
    if (label.some((c) => c <= 0x20 || c >= 0x7f || c === 0x2e)) return { id, rcode: Rcode.FormErr };
    labels.push(String.fromCharCode(...label));
    at += length;
  }
  if (at + 4 > bytes.length) return { id, rcode: Rcode.FormErr };
  return {
    id,
    recursionDesired: (flags & 0x0100) !== 0,
    name: labels.join('.'),
    type: v.getUint16(at),
    class: v.getUint16(at + 2),
    question: bytes.slice(HEADER, at + 4),
  };
}

/** A response: the header, the question (if any), A records for `addresses`, as many as fit in 512 bytes. */
export function buildDnsResponse(id: number, rcode: Rcode, question?: DnsQuestion, addresses: number[] = []): Uint8Array {
  const room = Math.floor((MAX_UDP_MESSAGE - HEADER - (question?.question.length ?? 0)) / 16);
  const answers = addresses.slice(0, room);
  const message = new Uint8Array(HEADER + (question?.question.length ?? 0) + 16 * answers.length);
  const v = new DataView(message.buffer);
  v.setUint16(0, id);
  // QR, opcode 0, RD echoed, RA (we recurse, through the host), rcode.
  v.setUint16(2, 0x8000 | (question?.recursionDesired ? 0x0100 : 0) | 0x0080 | rcode);
  v.setUint16(4, question ? 1 : 0);
  v.setUint16(6, answers.length);
  let at = HEADER;
  if (question) {
    message.set(question.question, at);
    at += question.question.length;
  }
  for (const address of answers) {
    v.setUint16(at, 0xc000 | HEADER); // the name: a pointer to the question's
    v.setUint16(at + 2, TYPE_A);
    v.setUint16(at + 4, CLASS_IN);
    v.setUint32(at + 6, ANSWER_TTL);
    v.setUint16(at + 10, 4);
    v.setUint32(at + 12, address);
    at += 16;
  }
  return message;
}

export interface DnsServerOptions {
  /** Where queries other than A and AAAA go, "address" or "address:port". Default: the host's resolvers. */
  upstream?: string[];
  /** The largest answer the guest takes (its MTU less the IP and UDP headers). */
  maxAnswer: number;
}

export class DnsServer {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private forwarder: Socket | null = null;
  /** Our id of a forwarded query → the guest's id and where its answer goes. */
  private readonly forwarded = new Map<number, { id: number; from: string; respond: (answer: Uint8Array) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly options: DnsServerOptions) {}

  /** Answers `query` through `respond` (perhaps later, perhaps never: see the header). */
  handle(query: Uint8Array, respond: (answer: Uint8Array) => void): void {
    const parsed = parseDnsQuery(query);
    if (!parsed) return;
    if ('rcode' in parsed) return respond(buildDnsResponse(parsed.id, parsed.rcode));
    if (parsed.class !== CLASS_IN) return respond(buildDnsResponse(parsed.id, Rcode.NotImp, parsed));
    if (parsed.type !== TYPE_A && parsed.type !== TYPE_AAAA) return this.forward(query, parsed, respond);
    if (parsed.type === TYPE_AAAA || parsed.name === '') return respond(buildDnsResponse(parsed.id, Rcode.NoError, parsed));
    const run = () => {
      this.running++;
      lookup(parsed.name, { family: 4, all: true }, (error, results) => {
        this.running--;
        this.waiting.shift()?.();
        if (!error) {
          const addresses = results.map((r) => parseIp(r.address));
          respond(buildDnsResponse(parsed.id, Rcode.NoError, parsed, addresses));
        } else if (error.code === 'ENOTFOUND') {
          respond(buildDnsResponse(parsed.id, Rcode.NxDomain, parsed));
        } else if (error.code === 'ENODATA') {
          respond(buildDnsResponse(parsed.id, Rcode.NoError, parsed));
        } else {
          respond(buildDnsResponse(parsed.id, Rcode.ServFail, parsed));
        }
      });
    };
    if (this.running < MAX_LOOKUPS) run();
    else if (this.waiting.length < MAX_WAITING) this.waiting.push(run);
  }

  private forward(query: Uint8Array, parsed: DnsQuestion, respond: (answer: Uint8Array) => void): void {
    const upstream = upstreamServer(this.options.upstream ?? getServers());
    if (!upstream) return respond(buildDnsResponse(parsed.id, Rcode.ServFail, parsed));
    if (this.forwarded.size >= MAX_FORWARDED) return;
    let ours;
    do ours = crypto.getRandomValues(new Uint16Array(1))[0]; while (this.forwarded.has(ours));
    const timer = setTimeout(() => this.forwarded.delete(ours), FORWARD_TIMEOUT_MS);
    this.forwarded.set(ours, { id: parsed.id, from: `${upstream.address}:${upstream.port}`, respond, timer });
    const copy = query.slice();
    copy[0] = ours >> 8;
    copy[1] = ours & 0xff;
    this.forwarderSocket().send(copy, upstream.port, upstream.address);
  }

  private forwarderSocket(): Socket {
    if (this.forwarder) return this.forwarder;
    const socket = createSocket('udp4');
    socket.on('error', () => {}); // a lost answer: the guest's resolver retries
    socket.on('message', (answer, sender) => {
      // Only an answer (QR) from the server asked, to a query of ours, that fits the guest's datagram.
      const waiting = answer.length >= HEADER ? this.forwarded.get(answer.readUInt16BE(0)) : undefined;
      if (!waiting || waiting.from !== `${sender.address}:${sender.port}` || !(answer[2] & 0x80) || answer.length > this.options.maxAnswer) return;
      this.forwarded.delete(answer.readUInt16BE(0));
      clearTimeout(waiting.timer);
      const copy = new Uint8Array(answer);
      copy[0] = waiting.id >> 8;
      copy[1] = waiting.id & 0xff;
      waiting.respond(copy);
    });
    return (this.forwarder = socket);
  }

  /** Drops waiting lookups and forwarded queries (running lookups answer into a closed stack, which ignores them). */
  close(): void {
    this.waiting.length = 0;
    for (const { timer } of this.forwarded.values()) clearTimeout(timer);
    this.forwarded.clear();
    this.forwarder?.close();
    this.forwarder = null;
  }
}

/** The first IPv4 server of a dns.getServers()-style list ("1.2.3.4" or "1.2.3.4:5353"). */
function upstreamServer(servers: string[]): { address: string; port: number } | null {
  for (const server of servers) {
    const match = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(server);
    if (match) return { address: match[1], port: match[2] ? Number(match[2]) : DNS_PORT };
  }
  return null;
}
