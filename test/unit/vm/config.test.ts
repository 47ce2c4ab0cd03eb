// vm.json validation: a valid definition round-trips; every kind of damage is refused with a
// message naming the file and the field path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkVmConfig, macOfNic, parseVmConfig, serializeVmConfig, type VmConfig } from '../../../engine/vm/config.ts';
import { VmConfigError } from '../../../engine/vm/errors.ts';

const ID = '0b9d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f';
const S1 = '11111111-2222-4333-8444-555555555555';
const S2 = '66666666-7777-4888-9999-aaaaaaaaaaaa';

function valid(): VmConfig {
  const boot = { firmware: 'boot/firmware', kernel: 'boot/kernel', initrd: 'boot/initrd', append: 'console=ttyS0' };
  return {
    version: 1,
    id: ID,
    name: 'web-1',
    created: '2025-01-02T03:04:05.678Z',
    preset: 'debian',
    cpus: 2,
    memory: 512,
    boot,
    disks: [{ file: 'disks/disk0-1a2b3c4d.qcow2', serial: 'HGR0123456789AB', readOnly: false }],
    network: { mac: '52:54:00:12:34:56', nics: ['nat'] },
    machineId: '0123456789abcdef0123456789abcdef',
    savedState: 'state/5e6f7a8b.hst',
    linkedClone: null,
    snapshots: {
      current: S2,
      list: [
        { id: S1, name: 'before upgrade', description: '', created: '2025-01-02T03:04:05Z', parent: null, disks: ['disks/disk0-00000001.qcow2'], state: null, machine: { cpus: 1, memory: 256, boot } },
        { id: S2, name: 'after', description: 'x', created: '2025-01-02T03:04:06Z', parent: S1, disks: ['disks/disk0-00000002.qcow2'], state: `snapshots/${S2}.hst`, machine: { cpus: 2, memory: 512, boot } },
      ],
    },
  };
}

/** The message a config changed by `damage` is refused with. */
function refusal(damage: (c: Record<string, any>) => void): string {
  const config = structuredClone(valid()) as Record<string, any>;
  damage(config);
  try {
    checkVmConfig(config, 'vm.json');
  } catch (err) {
    assert.ok(err instanceof VmConfigError, String(err));
    return err.message;
  }
  assert.fail('the damaged config was accepted');
}

test('a valid vm.json round-trips through serialize and parse', () => {
  const text = serializeVmConfig(valid());
  assert.deepEqual(parseVmConfig(text, 'vm.json'), valid());
  assert.ok(text.endsWith('}\n'));
});

test('a vm.json from before the NIC list has one NAT NIC; the list is checked', () => {
  const old = structuredClone(valid()) as Record<string, any>;
  delete old.network.nics;
  assert.deepEqual(checkVmConfig(old, 'vm.json').network, { mac: '52:54:00:12:34:56', nics: ['nat'] });
  const none = structuredClone(valid());
  none.network.nics = [];
  assert.deepEqual(parseVmConfig(serializeVmConfig(none), 'vm.json').network.nics, []);
  assert.equal(refusal((c) => { c.network.nics = ['internal:lab']; }), 'vm.json: network.nics[0]: must be one of nat');
  assert.equal(refusal((c) => { c.network.nics = 'nat'; }), 'vm.json: network.nics: must be a list');
  assert.equal(refusal((c) => { c.network.nics = Array(6).fill('nat'); }), 'vm.json: network.nics: the machine takes at most 6 disks and network cards together');
  assert.equal(refusal((c) => { c.network.bridge = 'br0'; }), 'vm.json: network.bridge: is not a known field');
});

test("NIC n's MAC is the VM's plus n in its last three octets", () => {
  assert.equal(macOfNic('52:54:00:12:34:56', 0), '52:54:00:12:34:56');
  assert.equal(macOfNic('52:54:00:12:34:56', 1), '52:54:00:12:34:57');
  assert.equal(macOfNic('52:54:00:12:34:ff', 1), '52:54:00:12:35:00');
  assert.equal(macOfNic('52:54:00:ff:ff:ff', 2), '52:54:00:00:00:01');
});

test('errors name the field path, with the rule', () => {
  assert.equal(refusal((c) => { c.cpus = 9; }), 'vm.json: cpus: must be a whole number from 1 to 8');
  assert.equal(refusal((c) => { c.cpus = 1.5; }), 'vm.json: cpus: must be a whole number from 1 to 8');
  assert.equal(refusal((c) => { c.memory = '512'; }), 'vm.json: memory: must be a whole number of MiB from 16 to 3072');
  assert.equal(refusal((c) => { delete c.boot.kernel; }), 'vm.json: boot.kernel: is missing');
  assert.equal(refusal((c) => { c.colour = 'red'; }), 'vm.json: colour: is not a known field');
  assert.equal(refusal((c) => { c.disks[0].file = 'disks/../../etc/passwd'; }), 'vm.json: disks[0].file: must be a file under disks/');
  assert.equal(refusal((c) => { c.boot.kernel = '/boot/vmlinuz'; }), 'vm.json: boot.kernel: must be a file under boot/');
  assert.equal(refusal((c) => { c.savedState = 'disks/x.hst'; }), 'vm.json: savedState: must be a file under state/');
  assert.equal(refusal((c) => { c.disks = []; }), 'vm.json: disks: must list at least one disk');
  assert.equal(refusal((c) => { c.disks[0].serial = 'x'.repeat(21); }), 'vm.json: disks[0].serial: must be 1 to 20 printable ASCII characters without spaces');
  assert.equal(refusal((c) => { c.network.mac = '53:54:00:12:34:56'; }), 'vm.json: network.mac: must be a unicast address (first octet even)');
  assert.equal(refusal((c) => { c.machineId = '0'.repeat(32); }), 'vm.json: machineId: must not be all zeros');
  assert.equal(refusal((c) => { c.name = '-web'; }), "vm.json: name: must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
  assert.equal(refusal((c) => { c.id = ID.toUpperCase(); }), 'vm.json: id: must be a uuid (lowercase)');
  assert.equal(refusal((c) => { c.version = 2; }), 'vm.json: version: 2 is newer than this Hangar reads (1); use a newer Hangar');
  assert.equal(refusal((c) => { c.version = 0; }), 'vm.json: version: must be 1');
});

test('the snapshot tree is checked whole: ids, names, parents, loops, current, disks per snapshot', () => {
  assert.equal(refusal((c) => { c.snapshots.list[1].parent = '00000000-0000-4000-8000-000000000000'; }),
    'vm.json: snapshots.list[1].parent: names no snapshot in the list (00000000-0000-4000-8000-000000000000)');
  assert.equal(refusal((c) => { c.snapshots.list[0].parent = S2; }), 'vm.json: snapshots.list[0].parent: makes a loop in the snapshot tree');
  assert.equal(refusal((c) => { c.snapshots.list[1].name = 'before upgrade'; }), 'vm.json: snapshots.list[1].name: repeats the name "before upgrade"');
  assert.equal(refusal((c) => { c.snapshots.list[1].id = S1; c.snapshots.list[1].parent = null; }), `vm.json: snapshots.list[1].id: repeats the id ${S1}`);
  assert.equal(refusal((c) => { c.snapshots.current = '00000000-0000-4000-8000-000000000000'; }), 'vm.json: snapshots.current: names no snapshot in the list (00000000-0000-4000-8000-000000000000)');
  assert.equal(refusal((c) => { c.snapshots.list[0].disks = []; }), 'vm.json: snapshots.list[0].disks: must list one frozen image per VM disk (1)');
  assert.equal(refusal((c) => { c.snapshots.list[1].machine.memory = 8; }), 'vm.json: snapshots.list[1].machine.memory: must be a whole number of MiB from 16 to 3072');
  assert.equal(refusal((c) => { c.snapshots.list[1].state = 'state/x.hst'; }), 'vm.json: snapshots.list[1].state: must be a file under snapshots/');
  assert.equal(refusal((c) => { c.snapshots.list[0].name = ' padded'; }),
    "vm.json: snapshots.list[0].name: must be 1 to 80 characters without control characters, not starting with '-' or a space nor ending with a space");
});

/** A config whose snapshots form one chain of `count`, newest first in the list (every walk up is long). */
function chain(count: number): VmConfig {
  const config = valid();
  const template = config.snapshots.list[0]!;
  const id = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
  config.snapshots.list = Array.from({ length: count }, (_, k) => {
    const i = count - 1 - k;
    return { ...template, id: id(i), name: `s${i}`, parent: i === 0 ? null : id(i - 1) };
  });
  config.snapshots.current = id(count - 1);
  return config;
}

test('a tree of 20,000 and of 40,000 snapshots (one chain, the worst case of a walk up) is checked in linear time', () => {
  const ms: number[] = [];
  for (const count of [20_000, 40_000]) {
    const config = chain(count);
    const started = performance.now();
    checkVmConfig(config, 'vm.json');
    ms.push(performance.now() - started);
  }
  console.log(`vm.json snapshot tree: 20,000 snapshots checked in ${ms[0]!.toFixed(0)} ms, 40,000 in ${ms[1]!.toFixed(0)} ms`);
  // The quadratic check took 25 s for 20,000; a generous bound for a busy host.
  assert.ok(ms[0]! < 3000 && ms[1]! < 6000, `${ms.map((t) => t.toFixed(0)).join(' and ')} ms`);
  // A loop deep in a long chain is still found, naming the first snapshot that walks into it.
  const looped = chain(20_000);
  looped.snapshots.list[19_999]!.parent = looped.snapshots.list[0]!.id;
  assert.throws(() => checkVmConfig(looped, 'vm.json'), /^VmConfigError: vm\.json: snapshots\.list\[0\]\.parent: makes a loop in the snapshot tree$/);
  // A walk that reaches a snapshot listed later, whose parent is missing: refused by name.
  const broken = chain(3);
  broken.snapshots.list[2]!.parent = '00000000-0000-4000-8000-0000000000ff';
  assert.throws(() => checkVmConfig(broken, 'vm.json'), /snapshots\.list\[2\]\.parent: names no snapshot in the list/);
});

test('malformed, truncated and empty files are refused with what is wrong', () => {
  const text = serializeVmConfig(valid());
  assert.throws(() => parseVmConfig(text.slice(0, text.length / 2), '/lib/vm.json'),
    (err: Error) => err instanceof VmConfigError && /^\/lib\/vm\.json: is not valid JSON \(.+\); damaged or truncated, it was left as it is$/.test(err.message));
  assert.throws(() => parseVmConfig('', 'vm.json'), /^VmConfigError: vm\.json: is empty/);
  assert.throws(() => parseVmConfig('[1]', 'vm.json'), /^VmConfigError: vm\.json: \(top\): must be an object$/);
});

test('serialize refuses to write a config that would not load back', () => {
  assert.throws(() => serializeVmConfig({ ...valid(), cpus: 0 }), /vm\.json \(about to be written\): cpus: must be a whole number from 1 to 8/);
});
