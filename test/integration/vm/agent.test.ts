// The guest agent in the real Debian guest: /init starts hangar-agent on hvc0, the host talks to
// it through MachineHost's agent channel (the virtio-console). Commands, files both ways, the
// clock, a restore from a saved state (the agent picks up where the machine stopped), power off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianGuest } from '../../../engine/guests/debian.ts';
import type { MachineConfig } from '../../../engine/machine/machine.ts';
import { MachineHost } from '../../../engine/vcpu/machine-host.ts';
import { AgentError, GuestAgent, type AgentChannel } from '../../../engine/vm/agent.ts';
import { startGuestMachine } from '../../support/guest-machine.ts';

const BOOT_TIMEOUT_MS = 600_000;
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function agentChannel(machine: MachineHost): AgentChannel {
  return {
    write: (bytes) => machine.sendAgent(bytes),
    onData: (listener) => {
      machine.on('agent', listener);
      return () => void machine.off('agent', listener);
    },
  };
}

/** Median and slowest of `count` runs of `argv` (each must succeed), as text. */
async function execTimes(agent: GuestAgent, argv: string[], count: number): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const result = await agent.exec(argv);
    times.push(performance.now() - start);
    assert.equal(result.exitCode, 0);
  }
  times.sort((a, b) => a - b);
  return `${argv.join(' ')}: median ${times[Math.floor(count / 2)]!.toFixed(0)} ms, max ${times[count - 1]!.toFixed(0)} ms`;
}

test('the guest agent runs commands, copies files both ways, sets the clock, survives a restore and powers the guest off', { timeout: 1_800_000 }, async (t) => {
  const guest = await ensureDebianGuest({});
  const config: MachineConfig = {
    harts: 1, ramBytes: 512 * 1024 * 1024,
    firmwarePath: guest.firmware, kernelPath: guest.kernel, initrdPath: guest.initrd, bootargs: guest.bootargs,
  };
  const scratch = mkdtempSync(join(tmpdir(), 'hangar-agent-it-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  const booted = startGuestMachine(config);
  let machine = booted.machine;
  t.after(() => void machine.kill());
  let agent = new GuestAgent(agentChannel(machine));

  const bootStart = performance.now();
  await agent.connect({ timeoutMs: BOOT_TIMEOUT_MS });
  t.diagnostic(`agent answered ${((performance.now() - bootStart) / 1000).toFixed(1)} s after the machine started`);

  const uname = await agent.exec(['uname', '-m']);
  assert.deepEqual({ exitCode: uname.exitCode, stdout: text(uname.stdout), stderr: text(uname.stderr) },
    { exitCode: 0, stdout: 'riscv64\n', stderr: '' });
  const failing = await agent.exec(['sh', '-c', 'echo to stderr >&2; exit 42']);
  assert.deepEqual([failing.exitCode, text(failing.stderr)], [42, 'to stderr\n']);
  // hvc0 is not the controlling terminal of what the agent runs (field 7 of /proc/PID/stat: tty_nr).
  const stat = text((await agent.exec(['cat', '/proc/self/stat'])).stdout);
  assert.equal(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4], '0');

  // 1 MiB of random bytes in, checked in the guest, and out again.
  const data = randomBytes(1024 * 1024);
  let start = performance.now();
  await agent.writeFile('/tmp/random.bin', data);
  const inMs = performance.now() - start;
  const guestDigest = text((await agent.exec(['sha256sum', '/tmp/random.bin'])).stdout).split(' ')[0];
  assert.equal(guestDigest, sha256(data));
  start = performance.now();
  const back = await agent.readFile('/tmp/random.bin');
  const outMs = performance.now() - start;
  assert.equal(sha256(back), sha256(data));
  t.diagnostic(`1 MiB in ${inMs.toFixed(0)} ms, out ${outMs.toFixed(0)} ms`);

  await agent.setClock(new Date());
  const guestSeconds = Number(text((await agent.exec(['date', '+%s'])).stdout));
  assert.ok(Math.abs(guestSeconds - Date.now() / 1000) < 2, `guest clock ${guestSeconds}, host ${Date.now() / 1000}`);

  // An agent that ends (here killed by the command it runs) is started again by /init.
  await assert.rejects(agent.exec(['sh', '-c', 'kill -9 $PPID'], { timeoutMs: 1000 }), (err: AgentError) => err.reason === 'timeout');
  await agent.connect({ timeoutMs: 30_000 });
  assert.equal(text((await agent.exec(['echo', 'back'])).stdout), 'back\n');

  // `true` prints nothing; `cat` has output to send back (two more processes in the agent).
  t.diagnostic(`after boot, ${await execTimes(agent, ['true'], 20)}; ${await execTimes(agent, ['cat', '/etc/hostname'], 20)}`);

  // Save the running machine, end it, resume the state in a new machine: a new session's
  // handshake finds the agent where it was, and the guest's clock is set again.
  await agent.writeFile('/tmp/marker', Buffer.from('before the save\n'));
  await machine.pause();
  const state = join(scratch, 'state.hst');
  await machine.saveState(state, null);
  agent.close('the machine was saved');
  await machine.kill();
  const restoreStart = performance.now();
  machine = new MachineHost({ ...config, restoreFrom: { path: state, vm: null } });
  agent = new GuestAgent(agentChannel(machine));
  const steps: string[] = [];
  const step = async <T>(name: string, work: Promise<T>): Promise<T> => {
    const before = performance.now();
    const result = await work;
    steps.push(`${name} ${(performance.now() - before).toFixed(0)} ms`);
    return result;
  };
  await step('started', machine.started);
  await step('connect', agent.connect({ timeoutMs: 60_000 }));
  await step('setClock', agent.setClock(new Date()));
  const marker = await step('exec', agent.exec(['cat', '/tmp/marker']));
  const firstExecMs = performance.now() - restoreStart;
  assert.equal(text(marker.stdout), 'before the save\n');
  t.diagnostic(`restore to first exec: ${firstExecMs.toFixed(0)} ms (${steps.join(', ')})`);
  t.diagnostic(`after restore, ${await execTimes(agent, ['true'], 20)}; ${await execTimes(agent, ['cat', '/etc/hostname'], 20)}`);

  await agent.powerOff();
  const exit = await machine.exited;
  assert.deepEqual([exit.reason, exit.status], ['poweroff', 0]);
});
