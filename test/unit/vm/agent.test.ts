// The guest agent end to end on the host: the real agent script (engine/guests/hangar-agent.sh)
// under Debian's busybox (the guest's shell and applets: every applet linked into PATH, as the
// guest's /init does), its stdin and stdout standing in for hvc0, driven by GuestAgent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as pty from 'node-pty';
import { AgentError, GuestAgent, type AgentChannel } from '../../../engine/vm/agent.ts';

const SCRIPT = fileURLToPath(new URL('../../../engine/guests/hangar-agent.sh', import.meta.url));

interface Guest {
  child: ChildProcessWithoutNullStreams;
  channel: AgentChannel;
  /** A scratch folder the agent's files go in. */
  dir: string;
  exited: Promise<number | null>;
}

/** A scratch folder with bin/ holding a link to busybox for each of its applets (the guest's PATH). */
function busyboxFolder(): { dir: string; bin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-agent-'));
  const bin = join(dir, 'bin');
  execFileSync('/bin/busybox', ['mkdir', bin]);
  execFileSync('/bin/busybox', ['--install', '-s', bin]);
  return { dir, bin };
}

/** The agent script under busybox, in a scratch folder with busybox's applets first in PATH. */
function startAgent(t: { after(fn: () => void): void }): Guest {
  const { dir, bin } = busyboxFolder();
  const hook = (name: string, body: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/busybox sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const child = spawn('/bin/busybox', ['sh', SCRIPT], {
    cwd: dir,
    env: {
      PATH: bin, HOME: dir, TMPDIR: dir,
      HANGAR_AGENT_SET_CLOCK: hook('set-clock', `echo "$@" > ${dir}/clock`),
      HANGAR_AGENT_POWER_OFF: hook('power-off', `: > ${dir}/powered-off`),
    },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return { child, channel: pipeChannel(child), dir, exited };
}

function pipeChannel(child: ChildProcessWithoutNullStreams): AgentChannel {
  return {
    write: (bytes) => void child.stdin.write(bytes),
    onData: (listener) => {
      child.stdout.on('data', listener);
      return () => void child.stdout.off('data', listener);
    },
  };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every byte value, `times` times over, in a different order each round. */
function everyByte(times: number): Uint8Array {
  const out = new Uint8Array(256 * times);
  for (let i = 0; i < out.length; i++) out[i] = (i * 7 + (i >> 8)) & 0xff;
  return out;
}

async function connected(t: { after(fn: () => void): void }): Promise<{ guest: Guest; agent: GuestAgent }> {
  const guest = startAgent(t);
  const agent = new GuestAgent(guest.channel);
  t.after(() => agent.close('test over'));
  await agent.connect({ timeoutMs: 10_000 });
  return { guest, agent };
}

test('exec returns stdout, stderr and the exit status; failures and missing programs are answers, not the end of the agent', async (t) => {
  const { agent } = await connected(t);
  const result = await agent.exec(['sh', '-c', 'printf "out\\n"; printf "err" >&2; exit 3']);
  assert.deepEqual({ ...result, stdout: text(result.stdout), stderr: text(result.stderr) }, { exitCode: 3, stdout: 'out\n', stderr: 'err' });

  assert.equal((await agent.exec(['false'])).exitCode, 1);
  const missing = await agent.exec(['no-such-program', 'x']);
  assert.equal(missing.exitCode, 127);
  assert.match(text(missing.stderr), /no-such-program: not found/);
  // A builtin's name runs as a program in a child: `exit` is not found, the agent stays.
  assert.equal((await agent.exec(['exit', '0'])).exitCode, 127);
  const killed = await agent.exec(['sh', '-c', 'kill -9 $$']);
  assert.equal(killed.exitCode, 137);

  const after = await agent.exec(['echo', 'still', 'here']);
  assert.equal(text(after.stdout), 'still here\n');
});

test('arguments reach the command exactly: spaces, quotes, newlines, tabs, $, backslashes, UTF-8', async (t) => {
  const { agent } = await connected(t);
  const args = ['a b', "it's", '"dq"', 'line1\nline2\n', '\ttab\r', '$HOME $(reboot) `x`', 'back\\slash', 'é ✓ 🚀', '', '*', "'", "''\n'"];
  const result = await agent.exec(['printf', '[%s]', ...args]);
  assert.equal(result.exitCode, 0);
  assert.equal(text(result.stdout), args.map((a) => `[${a}]`).join(''));
  await assert.rejects(agent.exec(['echo', 'nul\0byte']), (err: AgentError) => err.reason === 'argument' && /NUL/.test(err.message));
  await assert.rejects(agent.exec([]), (err: AgentError) => err.reason === 'argument');
});

test('stdin is the payload, binary and large; without one it is empty', async (t) => {
  const { agent } = await connected(t);
  const bytes = everyByte(4);
  const echoed = await agent.exec(['cat'], { stdin: bytes });
  assert.deepEqual(Buffer.from(echoed.stdout), Buffer.from(bytes));

  const large = randomBytes(3 * 1024 * 1024 + 12345);
  const digest = await agent.exec(['sha256sum'], { stdin: large });
  assert.equal(text(digest.stdout).split(' ')[0], sha256(large));

  assert.equal(text((await agent.exec(['wc', '-c'])).stdout).trim(), '0');
});

test('files in and out: every byte value, a few MiB, the mode; missing files and directories are clear errors', async (t) => {
  const { agent, guest } = await connected(t);
  const small = everyByte(3);
  const path = join(guest.dir, 'every-byte');
  await agent.writeFile(path, small);
  assert.deepEqual(readFileSync(path), Buffer.from(small));
  assert.deepEqual(Buffer.from(await agent.readFile(path)), Buffer.from(small));
  assert.equal(statSync(path).mode & 0o777, 0o644);

  const large = randomBytes(5 * 1024 * 1024 + 7);
  const big = join(guest.dir, 'big file with spaces');
  await agent.writeFile(big, large, { mode: 0o600 });
  assert.equal(statSync(big).mode & 0o777, 0o600);
  assert.equal(sha256(readFileSync(big)), sha256(large));
  assert.equal(sha256(await agent.readFile(big)), sha256(large));
  // The agent's own copies are emptied once sent: in the guest, /tmp is RAM.
  const [work] = readdirSync(guest.dir).filter((name) => name.startsWith('hangar-agent.'));
  assert.deepEqual(readdirSync(join(guest.dir, work!)).map((name) => statSync(join(guest.dir, work!, name)).size).filter((size) => size > 0), []);
  // Rewriting an existing file without a mode keeps its mode.
  await agent.writeFile(big, new Uint8Array([1, 2, 3]));
  assert.equal(statSync(big).mode & 0o777, 0o600);
  assert.deepEqual([...readFileSync(big)], [1, 2, 3]);

  await agent.writeFile(join(guest.dir, 'empty'), new Uint8Array(0));
  assert.equal((await agent.readFile(join(guest.dir, 'empty'))).length, 0);

  const missing = join(guest.dir, 'no-such-file');
  await assert.rejects(agent.readFile(missing),
    (err: AgentError) => err.reason === 'guest' && err.message === `guest file ${missing}: no such file or directory`);
  await assert.rejects(agent.readFile(guest.dir),
    (err: AgentError) => err.reason === 'guest' && err.message === `guest file ${guest.dir}: is a directory`);
  const nowhere = join(guest.dir, 'no-such-folder', 'f');
  await assert.rejects(agent.writeFile(nowhere, small),
    (err: AgentError) => err.reason === 'guest' && err.message.startsWith(`guest file ${nowhere}: `) && /nonexistent directory|No such file/.test(err.message));
  await assert.rejects(agent.writeFile(path, small, { mode: 0o10000 }), (err: AgentError) => err.reason === 'argument');
  // The agent serves on after each refusal.
  assert.deepEqual(Buffer.from(await agent.readFile(path)), Buffer.from(small));
});

test('a command past its time limit is killed in the guest and the agent serves on', async (t) => {
  const { agent } = await connected(t);
  const started = Date.now();
  await assert.rejects(agent.exec(['sleep', '30'], { timeoutMs: 1000 }),
    (err: AgentError) => err.reason === 'timeout' && /timed out after 1000 ms/.test(err.message));
  assert.ok(Date.now() - started < 5000, 'killed at its limit, not at its end');
  assert.equal(text((await agent.exec(['echo', 'next'], { timeoutMs: 5000 })).stdout), 'next\n');
});

test('setClock sets the nearest whole second; powerOff answers, syncs and powers off', async (t) => {
  const { agent, guest } = await connected(t);
  await agent.setClock(new Date(1_700_000_000_499));
  assert.equal(readFileSync(join(guest.dir, 'clock'), 'utf8'), '@1700000000\n');
  await agent.setClock(new Date(1_700_000_000_500));
  assert.equal(readFileSync(join(guest.dir, 'clock'), 'utf8'), '@1700000001\n');
  await agent.powerOff();
  assert.equal(await guest.exited, 0);
  assert.ok(existsSync(join(guest.dir, 'powered-off')));
});

test('a new session resynchronises after a half-written request (a restore in the middle of a transfer)', async (t) => {
  const guest = startAgent(t);
  // An earlier session's write request: the guest asks for its payload, which never comes.
  guest.child.stdin.write("old.1 write - 1000 'left-behind'\n");
  // Then half a line, cut off.
  guest.child.stdin.write("old.2 exec 0 0 'ech");
  const agent = new GuestAgent(guest.channel);
  t.after(() => agent.close('test over'));
  await agent.connect({ timeoutMs: 10_000 });
  assert.equal(text((await agent.exec(['echo', 'in sync'])).stdout), 'in sync\n');
  assert.equal(existsSync(join(guest.dir, 'left-behind')), false);

  // A session that dies after sending a request whose answer it never reads (an answer that
  // does not end with a newline: the next line must still be seen whole).
  agent.close('the session ended');
  guest.child.stdin.write("old.3 exec 0 0 'sh' '-c' 'sleep 1; printf stale'\n");
  const second = new GuestAgent(guest.channel);
  t.after(() => second.close('test over'));
  await second.connect({ timeoutMs: 10_000 });
  assert.equal(text((await second.exec(['echo', 'fresh'])).stdout), 'fresh\n');
});

test('on a terminal (as hvc0 is) the agent sets it raw: every byte value passes both ways', async (t) => {
  const { dir, bin } = busyboxFolder();
  // The agent opens its terminal by name, as /init has it open /dev/hvc0.
  const terminal = pty.spawn('/bin/busybox', ['sh', SCRIPT, '/dev/tty'], {
    cwd: dir, env: { PATH: bin, HOME: dir, TMPDIR: dir }, encoding: null,
  });
  t.after(() => {
    terminal.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const agent = new GuestAgent({
    write: (bytes) => terminal.write(Buffer.from(bytes)),
    onData: (listener) => {
      const subscription = terminal.onData((data) => listener(data as unknown as Buffer));
      return () => subscription.dispose();
    },
  });
  t.after(() => agent.close('test over'));
  await agent.connect({ timeoutMs: 10_000 });
  // Control characters a cooked terminal would act on (^C, ^D, ^S, ^Q, ^V, DEL, CR) among them.
  const bytes = everyByte(64);
  const echoed = await agent.exec(['cat'], { stdin: bytes });
  assert.equal(echoed.exitCode, 0);
  assert.deepEqual(Buffer.from(echoed.stdout), Buffer.from(bytes));
  const path = join(dir, 'every-byte');
  await agent.writeFile(path, bytes);
  assert.deepEqual(readFileSync(path), Buffer.from(bytes));
  assert.deepEqual(Buffer.from(await agent.readFile(path)), Buffer.from(bytes));
});

test('an agent whose device cannot be opened prints nothing and ends', async () => {
  const agent = spawn('/bin/busybox', ['sh', SCRIPT, '/nonexistent/hvc0']);
  let output = '';
  agent.stdout.on('data', (chunk) => { output += chunk; });
  agent.stderr.on('data', (chunk) => { output += chunk; });
  const code = await new Promise((resolve) => agent.once('exit', resolve));
  assert.deepEqual([code, output], [1, '']);
});

/**
 * A channel to the real agent whose guest-to-host bytes pass through `tamper` once armed: the
 * first read it changes (it returns null for reads it leaves alone) disarms it.
 */
function tamperedChannel(inner: AgentChannel) {
  let tamper: ((bytes: Buffer) => Buffer | null) | null = null;
  const channel: AgentChannel = {
    write: (bytes) => inner.write(bytes),
    onData: (listener) => inner.onData((bytes) => {
      const changed = tamper?.(Buffer.from(bytes)) ?? null;
      if (changed) tamper = null;
      listener(changed ?? bytes);
    }),
  };
  return { channel, arm: (fn: (bytes: Buffer) => Buffer | null) => { tamper = fn; } };
}

test('garbage from the guest fails the request with a protocol error, never more; the next request resynchronises', async (t) => {
  const guest = startAgent(t);
  const { channel, arm } = tamperedChannel(guest.channel);
  const agent = new GuestAgent(channel);
  t.after(() => agent.close('test over'));
  await agent.connect({ timeoutMs: 10_000 });
  // The answer to `echo hi` (3 bytes of stdout), changed by `change`; the handshakes pass untouched.
  const echoReply = /^\ndone (\S+) 0 3 0\n/;
  const onEchoReply = (change: (reply: string) => string) => (bytes: Buffer) =>
    echoReply.test(bytes.toString('latin1')) ? Buffer.from(change(bytes.toString('latin1')), 'latin1') : null;
  const cases: Array<[(reply: string) => string, RegExp]> = [
    [(reply) => `done nobody.1 0 0 0\n${reply}`, /unexpected line "done nobody\.1 0 0 0"/],
    [(reply) => `\x00\xff\x01 binary noise\n${reply}`, /unexpected line/],
    [(reply) => `${'x'.repeat(300)}\n${reply}`, /longer than 256 bytes/],
    // Replies that name the request but break the rules: lengths past the limit, a bad status.
    [(reply) => reply.replace(echoReply, '\ndone $1 0 99999999999 0\n'), /at most 268435456 each/],
    [(reply) => reply.replace(echoReply, '\ndone $1 0 3 268435457\n'), /at most 268435456 each/],
    [(reply) => reply.replace(echoReply, '\ndone $1 256 3 0\n'), /bad status "256"/],
    [(reply) => reply.replace(echoReply, '\ndone $1 -1 3 0\n'), /bad status "-1"/],
    [(reply) => reply.replace(echoReply, '\nwant $1\n'), /more payload than the request carries/],
  ];
  for (const [change, expected] of cases) {
    arm(onEchoReply(change));
    await assert.rejects(agent.exec(['echo', 'hi']), (err: AgentError) => err.reason === 'protocol' && expected.test(err.message));
    // The rest of the failed request's answer is skipped by the next handshake.
    assert.equal(text((await agent.exec(['echo', 'ok'])).stdout), 'ok\n');
  }
  // A handshake's answer is held to a small limit of its own.
  arm((bytes) => {
    const reply = bytes.toString('latin1');
    return /^\ndone \S+ 0 14 0\n/.test(reply) ? Buffer.from(reply.replace(/ 0 14 0\n/, ' 0 65 0\n'), 'latin1') : null;
  });
  await assert.rejects(agent.connect(), (err: AgentError) => err.reason === 'protocol' && /at most 64 each/.test(err.message));
  assert.equal(text((await agent.exec(['echo', 'ok'])).stdout), 'ok\n');
});

test('a channel with nothing on the other end: connect fails as unanswered; close fails what is in flight and what comes after', async (t) => {
  const sent: Uint8Array[] = [];
  const silent: AgentChannel = { write: (bytes) => void sent.push(bytes), onData: () => () => {} };
  const agent = new GuestAgent(silent);
  await assert.rejects(agent.connect({ timeoutMs: 600 }),
    (err: AgentError) => err instanceof AgentError && err.reason === 'unanswered' && /no guest agent answered within 600 ms/.test(err.message));
  assert.ok(sent.length >= 3, `hellos retried (${sent.length})`);
  assert.match(Buffer.from(sent[0]!).toString(), /^\n[0-9a-f]{12}\.\d+ hello\n$/);

  const controller = new AbortController();
  const aborted = agent.connect({ signal: controller.signal });
  controller.abort();
  await assert.rejects(aborted, (err: AgentError) => err.reason === 'aborted');

  const inFlight = agent.exec(['true']);
  setTimeout(() => agent.close('the machine stopped'), 50);
  await assert.rejects(inFlight, (err: AgentError) => err.reason === 'closed' && /the machine stopped/.test(err.message));
  await assert.rejects(agent.readFile('/etc/hostname'), (err: AgentError) => err.reason === 'closed');

  const refusing = new GuestAgent({ write: () => { throw new Error('machine: it has stopped'); }, onData: () => () => {} });
  await assert.rejects(refusing.connect(), (err: AgentError) => err.reason === 'closed' && /it has stopped/.test(err.message));
  // A machine that stops while the handshake is being retried: the retry fails the handshake.
  let writes = 0;
  const stopping = new GuestAgent({
    write: () => { if (++writes > 2) throw new Error('machine: it has stopped'); },
    onData: () => () => {},
  });
  await assert.rejects(stopping.connect({ timeoutMs: 10_000 }), (err: AgentError) => err.reason === 'closed' && /it has stopped/.test(err.message));
  assert.equal(writes, 3);
});

test('exec round trips, measured (informational: busybox on the host)', async (t) => {
  const { agent } = await connected(t);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    await agent.exec(['true']);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  t.diagnostic(`exec true: median ${times[10]!.toFixed(1)} ms, max ${times[19]!.toFixed(1)} ms`);
  assert.ok(times[10]! < 1000);
});
