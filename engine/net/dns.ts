// The gateway's DNS server (RFC 1035) on the DNS address, UDP port 53. A queries are answered
// through the host's own resolver, dns.lookup (getaddrinfo), so /etc/hosts, VPN and split DNS
// set-ups resolve in the guest as on the host. AAAA queries get an empty NOERROR answer (the
// guest network has no IPv6, and an empty answer makes resolvers fall back to A at once);
// every other type and opcode gets NOTIMP, a malformed query FORMERR, a non-query nothing.
//
// dns.lookup runs on libuv's small thread pool, which the process's file I/O shares: at most
// MAX_LOOKUPS run at a time and at most MAX_WAITING more wait; further queries are dropped (a
// resolver retries).
import { lookup } from 'node:dns';
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

export class DnsServer {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  /** Answers `query` through `respond` (perhaps later, perhaps never: see the header). */
  handle(query: Uint8Array, respond: (answer: Uint8Array) => void): void {
    const parsed = parseDnsQuery(query);
    if (!parsed) return;
    if ('rcode' in parsed) return respond(buildDnsResponse(parsed.id, parsed.rcode));
    if (parsed.class !== CLASS_IN || (parsed.type !== TYPE_A && parsed.type !== TYPE_AAAA)) {
      return respond(buildDnsResponse(parsed.id, Rcode.NotImp, parsed));
    }
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

  /** Drops waiting lookups (running ones answer into a closed stack, which ignores them). */
  close(): void {
    this.waiting.length = 0;
  }
}
