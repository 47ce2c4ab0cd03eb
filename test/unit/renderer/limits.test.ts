// The UI's checks and the engine's agree, at the edges of every rule: what a wizard lets through,
// the API's schema takes and the engine itself (vm.json, the VM library's name checks, the
// container runtime's spec check) accepts; what the wizard refuses, both refuse. The rules come
// from engine/common/limits.ts, whose VM maxima are what the machine's memory layout holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { channels, type Channel } from '../../../engine/api/channels.ts';
import type { ContainerSpec } from '../../../engine/containers/bundle.ts';
import { checkSpec } from '../../../engine/containers/runtime.ts';
import { MAX_HARTS, MAX_RAM_MIB } from '../../../engine/cpu/layout.ts';
import { VM_CPUS, VM_MEMORY_MIB, CONTAINER_CPUS, CONTAINER_MEMORY_BYTES, CONTAINER_PIDS, VM_DISK_GIB } from '../../../engine/common/limits.ts';
import { checkSnapshotName, checkVmConfig, checkVmName, type VmConfig } from '../../../engine/vm/config.ts';
import { snapshotNameProblem } from '../../../renderer/src/app/snapshots.ts';
import { containerNameProblem, mebibytesToBytes, MiB, numberProblem, vmNameProblem } from '../../../renderer/src/app/validation.ts';

const accepts = (check: () => unknown) => { try { check(); return true; } catch { return false; } };
const schemaTakes = (channel: Channel, args: Record<string, unknown>) => accepts(() => channels[channel].args.check(args, channel));

function vmJson(change: Partial<VmConfig>): VmConfig {
  return {
    version: 1, id: '0b9d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f', name: 'web', created: '2025-01-02T03:04:05.678Z', preset: 'debian', cpus: 1, memory: 512,
    boot: { firmware: 'boot/firmware', kernel: 'boot/kernel', initrd: null, append: '' },
    disks: [{ file: 'disks/disk0.qcow2', serial: 'HGR0123456789AB', readOnly: false }], network: { mac: '52:54:00:12:34:56', nics: ['nat'] }, machineId: '0123456789abcdef0123456789abcdef', savedState: null, linkedClone: null,
    snapshots: { current: null, list: [] }, ...change,
  };
}

/** Every side's verdict on each value, and the values where they differ (none expected). */
function disagreements<T>(values: T[], sides: Record<string, (value: T) => boolean>): string[] {
  return values.flatMap((value) => {
    const verdicts = Object.entries(sides).map(([side, takes]) => `${side}:${takes(value) ? 'takes' : 'refuses'}`);
    return new Set(verdicts.map((v) => v.split(':')[1])).size > 1 ? [`${JSON.stringify(value)} → ${verdicts.join(' ')}`] : [];
  });
}

const NAMES = ['', 'a', '9', 'web-2.test_1', 'a'.repeat(63), 'a'.repeat(64), 'a'.repeat(65), 'a'.repeat(127), 'a'.repeat(128), 'a'.repeat(129),
  '-web', '.web', '_web', 'a b', 'web/1', 'wéb', 'web\n', 'web:1'];

test('VM names: the New VM and Clone wizards, the schema and the VM library agree', () => {
  assert.deepEqual(disagreements(NAMES, {
    ui: (name) => vmNameProblem(name, []) === undefined,
    schema: (name) => schemaTakes('vms:create', { name }) && schemaTakes('vms:clone', { vm: 'x', name }) && schemaTakes('vms:modify', { vm: 'x', name }),
    library: (name) => accepts(() => checkVmName(name)),
    'vm.json': (name) => accepts(() => checkVmConfig(vmJson({ name }), 'vm.json')),
  }), []);
  assert.equal(vmNameProblem('a'.repeat(65), []), "Name: must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
  assert.equal(vmNameProblem('', []), 'Name: give the VM a name.');
  assert.equal(vmNameProblem('web', [{ id: '1', name: 'web', state: 'powered-off' }]), 'Name: a VM named "web" already exists.');
});

test('container names: the New Container wizard and the schema agree', () => {
  assert.deepEqual(disagreements(NAMES.filter(Boolean), {
    ui: (name) => containerNameProblem(name, []) === undefined,
    schema: (name) => schemaTakes('containers:create', { image: 'busybox', name }),
  }), []);
  assert.equal(containerNameProblem('a'.repeat(128), []), undefined);
  assert.match(containerNameProblem('a'.repeat(129), [])!, /^Name: must be 1 to 128 letters/);
});

test('snapshot names: the Take and Restore wizards (which send the name trimmed), the schema and the library agree', () => {
  const names = [...NAMES, 'before upgrade', ' padded ', 'x'.repeat(80), 'x'.repeat(81), 'tab\there', '-rf', 'ends with space ', 'ünïcode ok'];
  assert.deepEqual(disagreements(names, {
    ui: (name) => snapshotNameProblem(name, undefined) === undefined,
    schema: (name) => schemaTakes('vms:snapshot', { vm: 'x', name: name.trim() }) && schemaTakes('vms:restoreSnapshot', { vm: 'x', snapshot: 's', saveCurrentAs: name.trim() }),
    library: (name) => accepts(() => checkSnapshotName(name.trim())),
  }), []);
  // The wizard once allowed 128 characters where the engine takes 80.
  assert.match(snapshotNameProblem('x'.repeat(81), undefined)!, /^Name: must be 1 to 80 characters/);
});

test('VM vCPUs and memory: the New VM wizard, the schema (bytes) and vm.json (MiB) agree', () => {
  const typed = ['', ' ', 'x', '0', '1', '1.5', '-1', '2', '7', '8', '9', '15', '16', '16.5', '512', '3071', '3072', '3073', '1e3', '99999999'];
  assert.deepEqual(disagreements(typed, {
    ui: (t) => numberProblem('vCPUs', VM_CPUS, t) === undefined,
    schema: (t) => schemaTakes('vms:create', { name: 'web', cpus: Number(t) }) && t.trim() !== '',
    'vm.json': (t) => accepts(() => checkVmConfig(vmJson({ cpus: Number(t) }), 'vm.json')) && t.trim() !== '',
  }), []);
  assert.deepEqual(disagreements(typed, {
    ui: (t) => numberProblem('Memory', VM_MEMORY_MIB, t) === undefined,
    schema: (t) => schemaTakes('vms:create', { name: 'web', memory: Number(t) * MiB }) && Number.isInteger(Number(t)) && t.trim() !== '',
    'vm.json': (t) => accepts(() => checkVmConfig(vmJson({ memory: Number(t) }), 'vm.json')) && t.trim() !== '',
  }), []);
  assert.equal(numberProblem('Memory', VM_MEMORY_MIB, '8'), 'Memory: must be a whole number from 16 MiB to 3072 MiB.');
  assert.equal(numberProblem('vCPUs', VM_CPUS, '1.5'), 'vCPUs: must be a whole number from 1 to 8.');
  // What New VM proposes (the preferences) stays within what a VM may have.
  for (const [cpus, memoryMiB, diskGiB, ok] of [[8, 3072, VM_DISK_GIB.max, true], [9, 512, 8, false], [1, 3073, 8, false], [1, 512, VM_DISK_GIB.max + 1, false]] as const) {
    assert.equal(schemaTakes('preferences:set', { defaultVm: { cpus, memoryMiB, diskGiB } }), ok, `${cpus} ${memoryMiB} ${diskGiB}`);
  }
});

test('container limits: the New Container wizard, the schema and the runtime agree (CPUs up to this host\'s count)', () => {
  const spec = (field: 'memory' | 'cpus' | 'pids', value: number) => accepts(() => checkSpec({ [field]: value } as ContainerSpec));
  const memory = ['0', '5', '5.99', '6', '6.5', '64', '1e6', 'x'];
  assert.deepEqual(disagreements(memory, {
    ui: (t) => numberProblem('Memory', CONTAINER_MEMORY_BYTES, t, mebibytesToBytes) === undefined,
    schema: (t) => schemaTakes('containers:create', { image: 'busybox', memory: mebibytesToBytes(Number(t)) }),
    runtime: (t) => spec('memory', mebibytesToBytes(Number(t))),
  }), []);
  const hostCpus = cpus().length;
  const shares = ['0', '0.001', '0.009', '0.01', '0.5', '1', String(hostCpus), '-1', 'x'];
  assert.deepEqual(disagreements(shares, {
    ui: (t) => numberProblem('CPUs', CONTAINER_CPUS, t) === undefined,
    schema: (t) => schemaTakes('containers:create', { image: 'busybox', cpus: Number(t) }),
    runtime: (t) => spec('cpus', Number(t)),
  }), []);
  assert.equal(spec('cpus', hostCpus + 1), false, 'the runtime also keeps to the host it runs on');
  const pids = ['0', '1', '1.5', '100', '-3', '1e9'];
  assert.deepEqual(disagreements(pids, {
    ui: (t) => numberProblem('Processes', CONTAINER_PIDS, t) === undefined,
    schema: (t) => schemaTakes('containers:create', { image: 'busybox', pids: Number(t) }),
    runtime: (t) => spec('pids', Number(t)),
  }), []);
  assert.equal(numberProblem('Memory', CONTAINER_MEMORY_BYTES, '5', mebibytesToBytes), 'Memory: must be a whole number of at least 6 MiB.');
});

test('the VM maxima are what the machine layout is built for', () => {
  assert.equal(VM_CPUS.max, MAX_HARTS);
  assert.equal(VM_MEMORY_MIB.max, MAX_RAM_MIB);
});

test('the agreement check can fail: a rule the UI and the engine read differently shows', () => {
  assert.deepEqual(disagreements(['a'.repeat(64), 'a'.repeat(65)], {
    ui: (name) => name.length <= 128,
    library: (name) => accepts(() => checkVmName(name)),
  }), [`"${'a'.repeat(65)}" → ui:takes library:refuses`]);
});
