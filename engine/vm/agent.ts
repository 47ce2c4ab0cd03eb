// The host side of the guest agent: runs commands in the guest, copies files in and out, sets
// its wall clock and powers it off, over the virtio-console (hvc0). The guest side is a busybox
// sh script in the Debian guest's initramfs (engine/guests/hangar-agent.sh), started by /init.
//
// Protocol version 1. Lines end with "\n", fields are separated by one space. IDs are chosen by
// the host ([A-Za-z0-9.]: a random session prefix and a counter, so a reply to a request of an
// earlier session — a restored snapshot's — never matches one of this session).
//   host → guest  "\nID hello"                      handshake (the blank line ends a half line before it)
//                 "ID exec SECONDS LENGTH ARGV..."  run ARGV (shell-quoted words) with the payload as
//                                                   stdin; SECONDS: the guest kills it after that (0: never)
//                 "ID read PATH"                    a file's bytes (PATH shell-quoted)
//                 "ID write MODE LENGTH PATH"       the payload becomes the file; MODE octal, or "-"
//                 "ID clock SECONDS NANOSECONDS"    set CLOCK_REALTIME
//                 "ID poweroff"                     answer, then sync and power off
//                 "ID chunk N" + N bytes            the next piece of ID's payload, only when asked
//   guest → host  "\nwant ID"                       send the next chunk of ID's payload
//                 "\ndone ID STATUS N1 N2" + N1 + N2 bytes
//                   (the blank line first ends whatever came before: a host skipping an
//                   earlier answer's bytes sees every line whole)
//                   STATUS 0..255 (exec: the command's exit status; other verbs 0), "timeout"
//                   (exec: killed at SECONDS; the parts are its output so far) or "err" (the
//                   second part says why); exec: stdout then stderr, read: the file then nothing,
//                   hello: "hangar-agent 1" (the protocol version) then nothing.
// The guest reads request lines byte by byte (the shell's `read`) and payload chunks with
// `dd iflag=count_bytes,fullblock`, which never reads past the chunk; it pulls a payload chunk
// by chunk so that no more than CHUNK_BYTES are ever waiting in the machine's agent input
// (MachineHost.sendAgent holds at most 1 MiB). A chunk is one write(), so it is either all in
// the guest or not at all, also in a saved state. A guest waiting for a chunk that sees any
// other line (a new session's hello, after a restore) drops that request and serves the line.
//
// Requests are serialised: one in flight at a time (the guest serves them in order anyway).
// The guest is untrusted: reply lines are bounded, lengths checked against limits before any
// byte is kept, ids must match; anything else fails the request with an AgentError('protocol')
// and the next request starts with a new handshake, which skips whatever the guest says until
// it answers that handshake's id.
import { randomBytes } from 'node:crypto';
import { VmError } from './errors.ts';
import type { ErrorCode } from '../common/errors.ts';

export interface AgentChannel {
  write(bytes: Uint8Array): void;
  onData(listener: (bytes: Uint8Array) => void): () => void;
}

export type AgentErrorCode =
  /** No handshake answer before the timeout: no agent running, or busy with an earlier command. */
  | 'unanswered'
  /** A command or transfer that ran out of time. */
  | 'timeout'
  /** The guest refused or failed the request (no such file, ...): the message says why. */
  | 'guest'
  /** The guest's reply broke the protocol. */
  | 'protocol'
  /** The agent was closed (the machine stopped) or its channel refused bytes. */
  | 'closed'
  /** The caller's AbortSignal fired. */
  | 'aborted'
  /** A bad argument: an empty argv, a NUL byte in an argument or path, a bad mode or date. */
  | 'argument';

/** The engine's code for each reason: a guest agent that does not answer is `unavailable`. */
const CODE_OF: Record<AgentErrorCode, ErrorCode> = {
  unanswered: 'unavailable', timeout: 'unavailable', guest: 'failed', protocol: 'failed',
  closed: 'invalid-state', aborted: 'cancelled', argument: 'invalid-argument',
};

/** A VmError whose code follows its `reason` (CODE_OF). */
export class AgentError extends VmError {
  override name = 'AgentError';
  constructor(message: string, readonly reason: AgentErrorCode) {
    super(message, CODE_OF[reason]);
  }
}

export interface ExecResult { exitCode: number; stdout: Uint8Array; stderr: Uint8Array }

const PROTOCOL_VERSION = 1;
/** The largest payload piece the host sends at once. */
const CHUNK_BYTES = 256 * 1024;
/** The longest reply line a guest may send ("done ID STATUS N1 N2" is far shorter). */
const MAX_LINE = 256;
/** The most a guest may send in one part of a reply (stdout, stderr, a file). */
const MAX_PART_BYTES = 256 * 1024 * 1024;
/** The most in one part of a handshake's answer ("hangar-agent 1"). */
const MAX_HELLO_PART_BYTES = 64;
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** First handshake retry; each next one waits 1.5 times longer, up to HELLO_RETRY_MAX_MS. */
const HELLO_RETRY_MS = 100;
const HELLO_RETRY_MAX_MS = 1000;
/** A request other than exec fails when the guest sends nothing for this long. */
const SILENCE_TIMEOUT_MS = 60_000;
/** How much longer than an exec's own time limit the host waits for the guest's answer. */
const EXEC_GRACE_MS = 5000;
/** Handshake ids whose duplicate answers may still come (each hello retry is answered). */
const STALE_IDS_KEPT = 16;

interface Reply { status: string; parts: [Uint8Array, Uint8Array] }

interface Limits {
  signal?: AbortSignal;
  /** The whole request's time limit. */
  timeoutMs?: number;
  timeoutCode?: AgentErrorCode;
  /** Fail after SILENCE_TIMEOUT_MS without a byte from the guest (default true). */
  watchSilence?: boolean;
}

/** The request in flight. */
interface Pending {
  id: string;
  hello: boolean;
  /** The payload the guest pulls with "want", and how much of it it has. */
  payload: Uint8Array;
  sent: number;
  resolve(reply: Reply): void;
  reject(error: AgentError): void;
}

/** A reply's parts being received: for the pending request, or skipped (a stale id). */
interface Body {
  pending: Pending | null;
  remaining: [number, number];
  chunks: [Uint8Array[], Uint8Array[]];
  status: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class GuestAgent {
  private readonly session = randomBytes(6).toString('hex');
  private sequence = 0;
  private synced = false;
  private closedReason: string | null = null;
  private pending: Pending | null = null;
  private body: Body | null = null;
  private readonly staleIds: string[] = [];
  private readonly line = new Uint8Array(MAX_LINE);
  private lineLength = 0;
  private lineTooLong = false;
  /** Called on every byte from the guest: restarts a silence watchdog. */
  private heard: (() => void) | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly unsubscribe: () => void;

  constructor(private readonly channel: AgentChannel) {
    this.unsubscribe = channel.onData((bytes) => this.receive(bytes));
  }

  /** Resolves when the agent answers a handshake (retried until timeout); after boot or restore. */
  connect(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    return this.serialised(() => this.handshake(options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, options.signal));
  }

  async exec(argv: string[], options: { stdin?: Uint8Array; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new AgentError('exec: no command given', 'argument');
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new AgentError(`exec: timeoutMs must be a positive number, not ${timeoutMs}`, 'argument');
    }
    const stdin = options.stdin ?? new Uint8Array(0);
    const seconds = timeoutMs === undefined ? 0 : Math.ceil(timeoutMs / 1000);
    // A command may run for as long as it likes in silence; with a time limit, the guest kills it.
    const reply = await this.request(`exec ${seconds} ${stdin.length} ${quoteWords(argv, 'exec')}`, stdin, {
      signal: options.signal,
      timeoutMs: timeoutMs === undefined ? undefined : timeoutMs + EXEC_GRACE_MS,
      watchSilence: false,
    });
    const [stdout, stderr] = reply.parts;
    if (reply.status === 'timeout') throw new AgentError(`exec ${argv[0]}: timed out after ${timeoutMs} ms (killed in the guest)`, 'timeout');
    if (reply.status === 'err') throw new AgentError(`exec ${argv[0]}: ${guestText(stderr)}`, 'guest');
    return { exitCode: Number(reply.status), stdout, stderr };
  }

  async readFile(path: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const reply = await this.request(`read ${quoteWords([path], 'readFile')}`, new Uint8Array(0), { signal: options.signal });
    if (reply.status !== '0') throw new AgentError(`guest file ${path}: ${guestText(reply.parts[1])}`, 'guest');
    return reply.parts[0];
  }

  async writeFile(path: string, data: Uint8Array, options: { mode?: number; signal?: AbortSignal } = {}): Promise<void> {
    const { mode } = options;
    if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)) {
      throw new AgentError(`writeFile: mode must be a permission number from 0 to 0o7777, not ${mode}`, 'argument');
    }
    const modeField = mode === undefined ? '-' : mode.toString(8);
    const reply = await this.request(`write ${modeField} ${data.length} ${quoteWords([path], 'writeFile')}`, data, { signal: options.signal });
    if (reply.status !== '0') throw new AgentError(`guest file ${path}: ${guestText(reply.parts[1])}`, 'guest');
  }

  /**
   * Sets the guest's wall clock (CLOCK_REALTIME) to `date`: after a resume or restore. Busybox's
   * `date -s` sets whole seconds, so the guest rounds to the nearest one.
   */
  async setClock(date: Date): Promise<void> {
    const ms = date.getTime();
    if (!Number.isFinite(ms) || ms < 0) throw new AgentError(`setClock: not a date after 1970: ${date}`, 'argument');
    const seconds = Math.floor(ms / 1000);
    const reply = await this.request(`clock ${seconds} ${(ms - seconds * 1000) * 1_000_000}`, new Uint8Array(0), {});
    if (reply.status !== '0') throw new AgentError(`setClock: ${guestText(reply.parts[1])}`, 'guest');
  }

  /** Asks the guest to power off cleanly (sync, then poweroff): resolves when it has agreed to. */
  async powerOff(): Promise<void> {
    const reply = await this.request('poweroff', new Uint8Array(0), {});
    if (reply.status !== '0') throw new AgentError(`powerOff: ${guestText(reply.parts[1])}`, 'guest');
  }

  /** Fails everything in flight and everything asked later (the machine stopped). */
  close(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    this.unsubscribe();
    this.pending?.reject(new AgentError(`guest agent closed: ${reason}`, 'closed'));
  }

  /** Runs `operation` after every earlier one has settled. */
  private serialised<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation, operation);
    this.queue = result.catch(() => {});
    return result;
  }

  /** One request after a handshake when the last one broke off (or there was none yet). */
  private request(line: string, payload: Uint8Array, limits: Limits): Promise<Reply> {
    return this.serialised(async () => {
      if (!this.synced) await this.handshake(DEFAULT_CONNECT_TIMEOUT_MS, limits.signal);
      const id = this.nextId();
      return this.inFlight(id, false, payload, limits, () => this.send(encoder.encode(`${id} ${line}\n`)));
    });
  }

  private nextId(): string {
    return `${this.session}.${++this.sequence}`;
  }

  /** Sends hellos, each retry later than the last, until the guest answers one. */
  private async handshake(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    this.synced = false;
    const id = this.nextId();
    // Every hello the guest already has is answered in turn: the answers after the first are skipped.
    this.staleIds.push(id);
    if (this.staleIds.length > STALE_IDS_KEPT) this.staleIds.shift();
    const hello = encoder.encode(`\n${id} hello\n`);
    let retry: NodeJS.Timeout | undefined;
    let wait = HELLO_RETRY_MS;
    const sendHello = (fail: (error: AgentError) => void) => {
      try {
        this.send(hello);
      } catch (err) {
        fail(err as AgentError); // from a timer: nobody else would catch it
        return;
      }
      retry = setTimeout(() => sendHello(fail), wait);
      wait = Math.min(wait * 1.5, HELLO_RETRY_MAX_MS);
    };
    try {
      await this.inFlight(id, true, new Uint8Array(0), { signal, timeoutMs, timeoutCode: 'unanswered', watchSilence: false }, sendHello);
    } finally {
      clearTimeout(retry);
    }
  }

  /**
   * Makes `id` the request in flight, runs `start` (which sends it, and is given the way to fail
   * it) and resolves with the guest's reply; rejects on a timeout, an abort, a protocol error or close().
   */
  private inFlight(id: string, hello: boolean, payload: Uint8Array, limits: Limits,
    start: (fail: (error: AgentError) => void) => void): Promise<Reply> {
    if (this.closedReason !== null) return Promise.reject(new AgentError(`guest agent closed: ${this.closedReason}`, 'closed'));
    const { signal } = limits;
    if (signal?.aborted) return Promise.reject(new AgentError('aborted', 'aborted'));
    return new Promise<Reply>((resolve, reject) => {
      let deadline: NodeJS.Timeout | undefined;
      let silence: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(deadline);
        clearTimeout(silence);
        signal?.removeEventListener('abort', onAbort);
        this.heard = null;
        if (this.pending === pending) this.pending = null;
      };
      /** The request breaks off: whatever the guest still says about it is skipped by the next handshake. */
      const fail = (error: AgentError) => {
        finish();
        if (this.body?.pending === pending) this.body.pending = null;
        this.synced = false;
        reject(error);
      };
      const onAbort = () => fail(new AgentError('aborted', 'aborted'));
      const pending: Pending = {
        id, hello, payload, sent: 0,
        resolve: (reply) => { finish(); resolve(reply); },
        reject: fail,
      };
      this.pending = pending;
      signal?.addEventListener('abort', onAbort, { once: true });
      if (limits.timeoutMs !== undefined) {
        const ms = limits.timeoutMs;
        deadline = setTimeout(() => fail(hello
          ? new AgentError(`no guest agent answered within ${ms} ms (is the guest booted, with hangar-agent on hvc0?)`, limits.timeoutCode ?? 'timeout')
          : new AgentError(`the guest agent did not answer within ${ms} ms`, limits.timeoutCode ?? 'timeout')), ms);
      }
      if (limits.watchSilence ?? true) {
        const restart = () => {
          clearTimeout(silence);
          silence = setTimeout(() => fail(new AgentError(`the guest agent said nothing for ${SILENCE_TIMEOUT_MS} ms`, 'timeout')), SILENCE_TIMEOUT_MS);
        };
        this.heard = restart;
        restart();
      }
      try {
        start(fail);
      } catch (err) {
        fail(err instanceof AgentError ? err : new AgentError(String(err), 'closed'));
      }
    });
  }

  private send(bytes: Uint8Array): void {
    try {
      this.channel.write(bytes);
    } catch (err) {
      throw new AgentError(`cannot send to the guest agent: ${(err as Error).message}`, 'closed');
    }
  }

  /** Bytes from the guest: reply lines and the parts after them. */
  private receive(bytes: Uint8Array): void {
    this.heard?.();
    let i = 0;
    while (i < bytes.length) {
      if (this.body) {
        i = this.receiveBody(bytes, i);
        continue;
      }
      const newline = bytes.indexOf(10, i);
      const end = newline < 0 ? bytes.length : newline;
      if (!this.lineTooLong && this.lineLength + end - i <= MAX_LINE) {
        this.line.set(bytes.subarray(i, end), this.lineLength);
        this.lineLength += end - i;
      } else {
        this.lineTooLong = true;
      }
      if (newline < 0) return;
      i = newline + 1;
      const text = decoder.decode(this.line.subarray(0, this.lineLength));
      const tooLong = this.lineTooLong;
      this.lineLength = 0;
      this.lineTooLong = false;
      // Before the handshake's answer, long lines are just noise to skip.
      if (!tooLong) this.receiveLine(text);
      else if (this.synced) this.broken(`a line longer than ${MAX_LINE} bytes`);
    }
  }

  private receiveLine(text: string): void {
    if (text === '') return;
    const fields = text.split(' ');
    const pending = this.pending;
    const [kind, id] = fields;
    const ours = pending !== null && id === pending.id;
    // Before the handshake's answer, everything is what the guest said to someone else (an
    // earlier session, the tty's echo before the agent set it raw): skipped.
    if (!this.synced && !(ours && pending.hello && kind === 'done')) return;
    const stale = id !== undefined && this.staleIds.includes(id);
    if (kind === 'want' && fields.length === 2 && (ours || stale)) {
      if (ours) this.sendChunk(pending);
      return;
    }
    if (kind !== 'done' || fields.length !== 5 || !(ours || stale)) {
      this.broken(`an unexpected line ${JSON.stringify(text)}`);
      return;
    }
    const status = fields[2]!;
    const lengths = [fields[3]!, fields[4]!].map((field) => (/^\d{1,10}$/.test(field) ? Number(field) : NaN));
    const most = ours && pending.hello ? MAX_HELLO_PART_BYTES : MAX_PART_BYTES;
    if (!/^(\d{1,3}|timeout|err)$/.test(status) || Number(status) > 255) {
      this.broken(`a bad status ${JSON.stringify(status)}`);
    } else if (lengths.some((n) => !(n <= most))) {
      this.broken(`reply parts of ${fields[3]} and ${fields[4]} bytes (at most ${most} each)`);
    } else {
      this.body = { pending: ours ? pending : null, remaining: [lengths[0]!, lengths[1]!], chunks: [[], []], status };
      this.completeBody();
    }
  }

  private sendChunk(pending: Pending): void {
    const size = Math.min(CHUNK_BYTES, pending.payload.length - pending.sent);
    if (size <= 0) {
      this.broken('a request for more payload than the request carries');
      return;
    }
    const header = encoder.encode(`${pending.id} chunk ${size}\n`);
    const message = new Uint8Array(header.length + size);
    message.set(header);
    message.set(pending.payload.subarray(pending.sent, pending.sent + size), header.length);
    pending.sent += size;
    try {
      this.send(message);
    } catch (err) {
      pending.reject(err as AgentError);
    }
  }

  private receiveBody(bytes: Uint8Array, from: number): number {
    const body = this.body!;
    const part = body.remaining[0] > 0 ? 0 : 1;
    const take = Math.min(body.remaining[part], bytes.length - from);
    if (body.pending) body.chunks[part].push(bytes.slice(from, from + take));
    body.remaining[part] -= take;
    this.completeBody();
    return from + take;
  }

  private completeBody(): void {
    const body = this.body!;
    if (body.remaining[0] > 0 || body.remaining[1] > 0) return;
    this.body = null;
    const { pending } = body;
    if (!pending) return;
    const reply: Reply = { status: body.status, parts: [concat(body.chunks[0]), concat(body.chunks[1])] };
    if (pending.hello) {
      // In sync from the very next byte: what follows in the same read is already judged by it.
      const version = /^hangar-agent (\d+)$/.exec(decoder.decode(reply.parts[0]))?.[1];
      if (reply.status !== '0' || Number(version) !== PROTOCOL_VERSION) {
        pending.reject(new AgentError(`the guest agent speaks ${JSON.stringify(guestText(reply.parts[0]))}, not hangar-agent ${PROTOCOL_VERSION}`, 'protocol'));
        return;
      }
      this.synced = true;
    }
    pending.resolve(reply);
  }

  /** The guest broke the protocol: the request in flight fails, the next one handshakes first. */
  private broken(what: string): void {
    this.synced = false;
    this.pending?.reject(new AgentError(`the guest agent sent ${what}`, 'protocol'));
  }
}

/** Words for the guest shell's `eval "set -- WORDS"`: single-quoted; a newline is the agent's $nl. */
function quoteWords(words: string[], what: string): string {
  return words.map((word) => {
    if (word.includes('\0')) throw new AgentError(`${what}: a NUL byte cannot be passed to the guest: ${JSON.stringify(word)}`, 'argument');
    return `'${word.replace(/'/g, `'\\''`).replace(/\n/g, `'"$nl"'`)}'`;
  }).join(' ');
}

function guestText(bytes: Uint8Array): string {
  return decoder.decode(bytes).trim() || '(no message)';
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
