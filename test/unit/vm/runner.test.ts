// The runner's steps against the VM folder, with the machine and the agent replaced by fakes
// that record what they were asked (the real ones are exercised by the integration tests in
// test/integration/vm): what the machine is started with, what vm.json says after each step,
// when the VM's hold is let go, and the resource use it reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FilePreferences } from '../../../engine/api/preferences-store.ts';
import { ApiService } from '../../../engine/api/service.ts';
import { ContainersService } from '../../../engine/containers/index.ts';
import type { MachineExit } from '../../../engine/vcpu/protocol.ts';
import type { AgentChannel } from '../../../engine/vm/agent.ts';
import { VmStateError } from '../../../engine/vm/index.ts';
import type { RunnerAgent, RunnerMachine, RunnerParts, VmUsage } from '../../../engine/vm/runner.ts';
import type { MachineConfig } from '../../../engine/machine/machine.ts';
import { ByteRing, RingFeeder } from '../../../engine/vcpu/byte-ring.ts';
import { VmRunners } from '../../../engine/vm/runners.ts';
import { scratchLibrary } from './support.ts';

class FakeMachine extends EventEmitter implements RunnerMachine {
  readonly calls: string[] = [];
  readonly started: Promise<void>;
  readonly exited: Promise<MachineExit>;
  end!: (exit: MachineExit) => void;
  /** What the state file held when the machine read it (the runner discards it afterwards). */
  readonly restoredState?: string;
  constructor(readonly config: MachineConfig, fail?: string) {
    super();
    if (config.restoreFrom) this.restoredState = readFileSync(config.restoreFrom.path, 'utf8');
    this.exited = new Promise((resolve) => { this.end = resolve; });
    this.started = fail ? Promise.reject(new Error(fail)) : Promise.resolve();
    this.started.catch(() => undefined);
    if (fail) this.end({ reason: 'error', status: 1, message: fail });
  }
  /** The serial console's input as MachineHost has it: a ring (16 bytes here) and a feeder (64 bytes here) in front. */
  readonly consoleRing = new ByteRing(16);
  private readonly consoleFeed = new RingFeeder(this.consoleRing, 64, () => {});
  sendConsole(bytes: Uint8Array) { return this.consoleFeed.write(bytes); }
  sendAgent() {}
  async pause() { this.calls.push('pause'); }
  async resume() { this.calls.push('resume'); }
  async kill() {
    this.calls.push('kill');
    this.end({ reason: 'quit', status: 0 });
    return this.exited;
  }
  async saveState(path: string, vm: string | null) {
    this.calls.push(`saveState ${vm}`);
    writeFileSync(path, `state of ${vm}`);
  }
  async replaceDisks(disks: Array<{ path: string }>) { this.calls.push(`replaceDisks ${disks.map((d) => d.path).join(',')}`); }
  /** What the harts have run so far, as the test sets it. */
  busySeconds = 0;
  cpuSeconds() { return this.busySeconds; }
}

class FakeAgent implements RunnerAgent {
  readonly calls: string[] = [];
  constructor(private readonly machine: () => FakeMachine, private readonly obeysPowerOff: boolean) {}
  async connect() {}
  async exec(argv: string[]) { return { exitCode: 0, stdout: new TextEncoder().encode(argv.join(' ')), stderr: new Uint8Array() }; }
  async readFile() { return new Uint8Array(); }
  async writeFile() {}
  async setClock() { this.calls.push('setClock'); }
  async powerOff() {
    this.calls.push('powerOff');
    if (this.obeysPowerOff) this.machine().end({ reason: 'poweroff', status: 0 });
  }
  close(reason: string) { this.calls.push(`close ${reason}`); }
}

function setup(t: { after(fn: () => void): void }, options: { obeysPowerOff?: boolean; failStart?: string } = {}) {
  const { library, boot } = scratchLibrary(t);
  const machines: FakeMachine[] = [];
  const agents: FakeAgent[] = [];
  const parts: RunnerParts = {
    machine: (config) => {
      machines.push(new FakeMachine(config, options.failStart));
      return machines.at(-1)!;
    },
    agent: (_channel: AgentChannel) => {
      const machine = machines.at(-1)!;
      agents.push(new FakeAgent(() => machine, options.obeysPowerOff ?? true));
      return agents.at(-1)!;
    },
  };
  return { library, boot, machines, agents, runners: new VmRunners(library, parts) };
}

test('start boots the VM\'s disks; the guest powering off ends the run and lets go of the VM', async (t) => {
  const { library, boot, machines, runners } = setup(t);
  const info = await library.create({ name: 'vm', ...boot, diskSize: 1 << 20, cpus: 2 });
  const runner = await runners.start('vm');
  assert.equal(runner.state, 'running');
  assert.equal((await runners.info('vm')).state, 'running');
  const config = machines[0]!.config;
  assert.equal(config.harts, 2);
  assert.equal(config.restoreFrom, undefined);
  assert.deepEqual(config.disks, [{ path: `${info.folder}/${info.disks[0]!.file}`, readOnly: false, serial: info.disks[0]!.serial, backingRoots: [library.root] }]);
  await assert.rejects(runners.start('vm'), /VM "vm" is already running/);

  machines[0]!.end({ reason: 'poweroff', status: 0 });
  assert.deepEqual(await runner.finished, { reason: 'poweroff', status: 0 });
  assert.equal((await runners.info('vm')).state, 'powered-off');
  await assert.rejects(runners.runner('vm'), /VM "vm" is not running/);
});

test('save writes the state through the paused machine, names it in vm.json, and ends the run; start resumes from it and discards it', async (t) => {
  const { library, boot, machines, agents, runners } = setup(t);
  const { id, folder } = await library.create({ name: 'vm', ...boot, diskSize: 1 << 20 });
  const runner = await runners.start('vm');
  await runner.save();
  assert.deepEqual(machines[0]!.calls, ['pause', `saveState ${id}`, 'kill']);
  assert.deepEqual(await runner.finished, { reason: 'saved' });
  const saved = JSON.parse(readFileSync(`${folder}/vm.json`, 'utf8')) as { savedState: string };
  assert.equal(readFileSync(`${folder}/${saved.savedState}`, 'utf8'), `state of ${id}`);
  assert.equal((await runners.info('vm')).state, 'saved');

  await runners.start('vm');
  assert.deepEqual(machines[1]!.config.restoreFrom, { path: `${folder}/${saved.savedState}`, vm: id });
  assert.equal(JSON.parse(readFileSync(`${folder}/vm.json`, 'utf8')).savedState, null);
  assert.equal(existsSync(`${folder}/${saved.savedState}`), false);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(agents[1]!.calls, ['setClock'], 'the guest clock is set after a resume');
});

test('a save cancelled once the state is written leaves vm.json as it was and the guest running', async (t) => {
  const { library, boot, machines, runners } = setup(t);
  const { folder } = await library.create({ name: 'vm', ...boot, diskSize: 1 << 20 });
  const runner = await runners.start('vm');
  const abort = new AbortController();
  machines[0]!.saveState = async (path) => {
    writeFileSync(path, 'state');
    abort.abort();
  };
  await assert.rejects(runner.save({ signal: abort.signal }), { name: 'AbortError' });
  assert.equal(runner.state, 'running');
  assert.deepEqual(machines[0]!.calls, ['pause', 'resume']);
  assert.equal(JSON.parse(readFileSync(`${folder}/vm.json`, 'utf8')).savedState, null);
});

test('stop asks the guest\'s agent to power off; a guest that does not is killed after the timeout', async (t) => {
  const polite = setup(t);
  await polite.library.create({ name: 'vm', ...polite.boot, diskSize: 1 << 20 });
  const runner = await polite.runners.start('vm');
  assert.deepEqual(await runner.stop(), { reason: 'poweroff', status: 0 });
  assert.deepEqual(polite.machines[0]!.calls, []);

  const stubborn = setup(t, { obeysPowerOff: false });
  await stubborn.library.create({ name: 'vm', ...stubborn.boot, diskSize: 1 << 20 });
  const other = await stubborn.runners.start('vm');
  await other.pause();
  assert.deepEqual(await other.stop({ timeoutMs: 50 }), { reason: 'quit', status: 0 });
  assert.deepEqual(stubborn.machines[0]!.calls, ['pause', 'resume', 'kill']);
  assert.deepEqual(stubborn.agents[0]!.calls, ['powerOff', 'close the machine stopped']);
});

test('a live snapshot writes the machine state, swaps the new overlays in under the paused guest; restore kills and resumes from it', async (t) => {
  const { library, boot, machines, runners } = setup(t);
  const { id, folder } = await library.create({ name: 'vm', ...boot, diskSize: 1 << 20 });
  const runner = await runners.start('vm');
  const snap = await runners.snapshot('vm', 'live', {});
  const config = JSON.parse(readFileSync(`${folder}/vm.json`, 'utf8')) as { disks: Array<{ file: string }> };
  assert.deepEqual(machines[0]!.calls, ['pause', `saveState ${id}`, `replaceDisks ${folder}/${config.disks[0]!.file}`, 'resume']);
  assert.equal(readFileSync(`${folder}/${snap.state}`, 'utf8'), `state of ${id}`);

  await runner.pause();
  await assert.rejects(runner.exec(['true']), (err: Error) => err instanceof VmStateError && /VM "vm" is paused: resume it first/.test(err.message));
  await runner.resume();
  assert.equal(new TextDecoder().decode((await runner.exec(['echo', 'hi'])).stdout), 'echo hi');

  await runners.restoreSnapshot('vm', 'live', {});
  assert.equal(machines.length, 2);
  assert.equal(machines[0]!.calls.at(-1), 'kill');
  assert.equal(machines[1]!.restoredState, `state of ${id}`);
  assert.equal(runner.state, 'running');
  assert.equal(runners.find('vm'), runner, 'the same run goes on');
  await assert.rejects(runners.restoreSnapshot('vm', 'nothing', {}), /VM "vm" has no snapshot "nothing"/);
  assert.equal(machines.length, 2, 'a snapshot that does not exist stops nothing');
});

test('a machine that cannot start (a refused state file) ends the run with its message and leaves the VM as it was', async (t) => {
  const { library, boot, runners } = setup(t, { failStart: 'state file x.hst: checksum mismatch' });
  await library.create({ name: 'vm', ...boot, diskSize: 1 << 20 });
  await assert.rejects(runners.start('vm'), /checksum mismatch/);
  assert.equal((await runners.info('vm')).state, 'powered-off');
  assert.equal(runners.find('vm'), undefined);
});

test('a machine that cannot even be made lets go of the VM', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'vm', ...boot, diskSize: 1 << 20 });
  const runners = new VmRunners(library, {
    machine: () => { throw new Error('no threads left'); },
    agent: () => { throw new Error('unreachable'); },
  });
  await assert.rejects(runners.start('vm'), /no threads left/);
  assert.equal((await runners.info('vm')).state, 'powered-off');
  await assert.rejects(runners.start('vm'), /no threads left/, 'the VM is free to start again');
});

test('a running VM\'s usage (its harts\' CPU seconds, its RAM) reaches the service\'s sessions as vms:usage; none once it ends', async (t) => {
  const { library, boot, machines, runners } = setup(t);
  const { id } = await library.create({ name: 'vm', ...boot, diskSize: 1 << 20, memory: 64 });
  const service = new ApiService({
    containers: new ContainersService(join(library.root, '..', 'containers')),
    vms: runners,
    preferences: new FilePreferences(join(library.root, '..', 'preferences.json')),
    version: '0',
    watchIntervals: { stateMs: 60_000, usageMs: 20, imagesMs: 60_000 },
  });
  t.after(() => service.close());
  const seen: Record<string, VmUsage>[] = [];
  const session = service.connect((event) => { if (event.type === 'vms:usage') seen.push(event.usage); });
  const until = async (check: () => boolean) => { while (!check()) await new Promise((resolve) => setTimeout(resolve, 5)); };

  const runner = await runners.start('vm');
  machines[0]!.busySeconds = 1.5;
  assert.deepEqual(runner.usage(), { cpuSeconds: 1.5, memoryBytes: 64 << 20 });
  await until(() => seen.at(-1)?.[id]?.cpuSeconds === 1.5);
  assert.deepEqual(seen.at(-1), { [id]: { cpuSeconds: 1.5, memoryBytes: 64 << 20 } });
  machines[0]!.busySeconds = 2.25;
  await until(() => seen.at(-1)?.[id]?.cpuSeconds === 2.25);

  await runner.stop({ force: true });
  assert.equal(runner.usage(), undefined);
  await until(() => seen.length > 0 && Object.keys(seen.at(-1)!).length === 0);
  session.close();
});

test('terminals:write to a VM console whose guest reads nothing waits without holding up other calls; past the cap it is refused, naming the VM', async (t) => {
  const { library, boot, machines, runners } = setup(t);
  await library.create({ name: 'vm', ...boot, diskSize: 1 << 20 });
  const service = new ApiService({
    containers: new ContainersService(join(library.root, '..', 'containers')),
    vms: runners,
    preferences: new FilePreferences(join(library.root, '..', 'preferences.json')),
    version: '0',
  });
  t.after(() => service.close());
  const session = service.connect(() => {});
  t.after(() => session.close());
  await (await runners.start('vm')).pause();
  const opened = await session.call('vms:console', { vm: 'vm', cols: 80, rows: 24 });
  assert.ok(opened.ok);
  const { terminal } = opened.value as { terminal: string };

  let answered = false;
  const typed = session.call('terminals:write', { terminal, data: 'a'.repeat(40) }).then((result) => { answered = true; return result; });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(answered, false, 'the write waits until its bytes are in the ring');
  assert.deepEqual((await session.call('vms:list', {})).ok, true, 'other calls answer meanwhile');
  const refused = await session.call('terminals:write', { terminal, data: 'b'.repeat(60) });
  assert.deepEqual(refused, { ok: false, error: { code: 'invalid-state', message: 'VM "vm" is paused, and its console input is full: 25 bytes wait for the reader; 60 more would pass the limit of 64' } });

  // The guest reads (the UART's polls drain the ring): the write is handed over, in order.
  const ring = machines[0]!.consoleRing;
  let read = '';
  while (!answered) {
    read += Buffer.from(ring.read() ?? []).toString();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.deepEqual(await typed, { ok: true, value: null });
  read += Buffer.from(ring.read() ?? []).toString();
  assert.equal(read, 'a'.repeat(40));
});
