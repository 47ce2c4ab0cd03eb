// vm.json: the definition of one VM, version 1. It is validated whole on every load; an error
// names the file and the field path (`vm.json: cpus: must be a whole number from 1 to 8`), and a
// file that fails is refused and never rewritten.
//
// {
//   "version": 1,
//   "id": "uuid", "name": "web", "created": "2025-01-02T03:04:05.678Z", "preset": "debian",
//   "cpus": 1, "memory": 512,                               memory in MiB
//   "boot": { "firmware": "boot/firmware", "kernel": "boot/kernel", "initrd": "boot/initrd" | null,
//             "append": "console=ttyS0" },                  files inside the VM folder (README.md says why)
//   "disks": [{ "file": "disks/disk0-1a2b3c4d.qcow2", "serial": "HGR0123456789AB", "readOnly": false }],
//   "network": { "mac": "52:54:00:12:34:56",                the VM's MAC: its first NIC's
//                "nics": ["nat"] },                         network cards (absent: one NAT NIC, as
//                                                           before the list existed; []: none)
//   "machineId": "32 hex digits",                           /etc/machine-id of the guest
//   "savedState": "state/5e6f7a8b.hst" | null,              suspended to disk when set
//   "linkedClone": { "vm": "uuid", "snapshot": "uuid" } | null,   whose frozen disks this VM's sit on
//   "snapshots": {
//     "current": "uuid" | null,                             the snapshot the current state grew from
//     "list": [{ "id", "name", "description", "created", "parent": "uuid" | null,
//                "disks": ["disks/disk0-....qcow2"],          frozen images, one per VM disk
//                "state": "snapshots/<id>.hst" | null,       machine state with RAM, when taken
//                "machine": { "cpus", "memory", "boot" } }]  the hardware it was taken with
//   }
// }
// Every path is relative to the VM folder and confined to its sub-folder by pattern, so a vm.json
// from elsewhere (an imported appliance) cannot name files outside the VM.
import { KERNEL_APPEND_MAX, nameProblem, SNAPSHOT_DESCRIPTION_MAX, SNAPSHOT_NAME, VM_CPUS, VM_MEMORY_MIB, VM_NAME } from '../common/limits.ts';
import { VmArgumentError, VmConfigError } from './errors.ts';
import { MAX_DISKS } from '../machine/virt.ts';
import type { BootConfig, MachineSettings, NicKind, SnapshotRecord } from './types.ts';

export type { BootConfig, MachineSettings, NicKind, SnapshotRecord };

export const VM_CONFIG_VERSION = 1;
export const MIN_MEMORY_MIB = VM_MEMORY_MIB.min;
export const MAX_MEMORY_MIB = VM_MEMORY_MIB.max;
export const MAX_CPUS = VM_CPUS.max;

export interface DiskConfig {
  file: string;
  /** virtio-blk serial (GET_ID), at most 20 bytes. */
  serial: string;
  readOnly: boolean;
}

export const NIC_KINDS: readonly NicKind[] = ['nat'];

export interface NetworkConfig {
  /** The VM's MAC address: its first NIC's; NIC n has this address plus n (macOfNic). */
  mac: string;
  nics: NicKind[];
}

/** NIC `n`'s MAC: the VM's with n added to its last three octets (the VM's own block of addresses). */
export function macOfNic(mac: string, n: number): string {
  const octets = mac.split(':').map((h) => parseInt(h, 16));
  const low = (((octets[3]! << 16) | (octets[4]! << 8) | octets[5]!) + n) & 0xff_ffff;
  return [...octets.slice(0, 3), low >> 16, (low >> 8) & 0xff, low & 0xff].map((o) => o.toString(16).padStart(2, '0')).join(':');
}

export interface VmConfig extends MachineSettings {
  version: typeof VM_CONFIG_VERSION;
  id: string;
  name: string;
  created: string;
  preset: string;
  disks: DiskConfig[];
  network: NetworkConfig;
  machineId: string;
  savedState: string | null;
  linkedClone: { vm: string; snapshot: string } | null;
  snapshots: { current: string | null; list: SnapshotRecord[] };
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const FILE = '[A-Za-z0-9][A-Za-z0-9._-]*';
const BOOT_FILE = new RegExp(`^boot/${FILE}$`);
const DISK_FILE = new RegExp(`^disks/${FILE}$`);
const STATE_FILE = new RegExp(`^state/${FILE}$`);
const SNAPSHOT_STATE = new RegExp(`^snapshots/${FILE}$`);
const PRESET = /^[a-z0-9][a-z0-9-]*$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const SERIAL = /^[\x21-\x7e]{1,20}$/;
const MACHINE_ID = /^[0-9a-f]{32}$/;

export function checkVmName(name: string, what = 'name'): string {
  const problem = nameProblem(VM_NAME, name);
  if (problem) throw new VmArgumentError(`${what} "${name}": ${problem}`);
  return name;
}

export function checkSnapshotName(name: string): string {
  const problem = nameProblem(SNAPSHOT_NAME, name);
  if (problem) throw new VmArgumentError(`snapshot name "${name}": ${problem}`);
  return name;
}

/** Walks a parsed document, throwing VmConfigError("FILE: FIELD.PATH: problem"). */
class Fields {
  constructor(private readonly file: string) {}

  fail(path: string, problem: string): never {
    throw new VmConfigError(`${this.file}: ${path}: ${problem}`);
  }

  object(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(path, 'must be an object');
    const record = value as Record<string, unknown>;
    const prefix = path === '(top)' ? '' : `${path}.`;
    for (const key of keys) if (!(key in record)) this.fail(`${prefix}${key}`, 'is missing');
    for (const key of Object.keys(record)) if (!keys.includes(key)) this.fail(`${prefix}${key}`, 'is not a known field');
    return record;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) this.fail(path, 'must be a list');
    return value;
  }

  string(value: unknown, path: string, pattern: RegExp, rule: string): string {
    if (typeof value !== 'string' || !pattern.test(value)) this.fail(path, rule);
    return value;
  }

  text(value: unknown, path: string, max: number): string {
    if (typeof value !== 'string' || value.length > max || /[\x00-\x08\x0b-\x1f\x7f]/.test(value)) {
      this.fail(path, `must be text of at most ${max} characters without control characters`);
    }
    return value;
  }

  integer(value: unknown, path: string, min: number, max: number, unit = ''): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(path, `must be a whole number${unit} from ${min} to ${max}`);
    }
    return value;
  }

  boolean(value: unknown, path: string): boolean {
    if (typeof value !== 'boolean') this.fail(path, 'must be true or false');
    return value;
  }

  nullable<T>(value: unknown, check: (v: unknown) => T): T | null {
    return value === null ? null : check(value);
  }
}

function checkMachine(f: Fields, record: Record<string, unknown>, path: string): MachineSettings {
  const at = (key: string) => (path ? `${path}.${key}` : key);
  const boot = f.object(record.boot, at('boot'), ['firmware', 'kernel', 'initrd', 'append']);
  const bootFile = (key: string) => f.string(boot[key], at(`boot.${key}`), BOOT_FILE, 'must be a file under boot/');
  return {
    cpus: f.integer(record.cpus, at('cpus'), VM_CPUS.min, MAX_CPUS),
    memory: f.integer(record.memory, at('memory'), MIN_MEMORY_MIB, MAX_MEMORY_MIB, ' of MiB'),
    boot: {
      firmware: bootFile('firmware'),
      kernel: bootFile('kernel'),
      initrd: f.nullable(boot.initrd, () => bootFile('initrd')),
      append: f.text(boot.append, at('boot.append'), KERNEL_APPEND_MAX),
    },
  };
}

const TOP_KEYS = [
  'version', 'id', 'name', 'created', 'preset', 'cpus', 'memory', 'boot', 'disks', 'network', 'machineId',
  'savedState', 'linkedClone', 'snapshots',
] as const;
const SNAPSHOT_KEYS = ['id', 'name', 'description', 'created', 'parent', 'disks', 'state', 'machine'] as const;

/** Validates a parsed vm.json; `file` names it in messages. */
export function checkVmConfig(value: unknown, file: string): VmConfig {
  const f = new Fields(file);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const version = (value as Record<string, unknown>).version;
    if (typeof version === 'number' && version > VM_CONFIG_VERSION) {
      f.fail('version', `${version} is newer than this Hangar reads (${VM_CONFIG_VERSION}); use a newer Hangar`);
    }
  }
  const top = f.object(value, '(top)', TOP_KEYS);
  if (top.version !== VM_CONFIG_VERSION) f.fail('version', `must be ${VM_CONFIG_VERSION}`);
  const machine = checkMachine(f, top, '');
  const disks = f.array(top.disks, 'disks').map((entry, i) => {
    const disk = f.object(entry, `disks[${i}]`, ['file', 'serial', 'readOnly']);
    return {
      file: f.string(disk.file, `disks[${i}].file`, DISK_FILE, 'must be a file under disks/'),
      serial: f.string(disk.serial, `disks[${i}].serial`, SERIAL, 'must be 1 to 20 printable ASCII characters without spaces'),
      readOnly: f.boolean(disk.readOnly, `disks[${i}].readOnly`),
    };
  });
  if (disks.length === 0) f.fail('disks', 'must list at least one disk');
  const unique = <T>(values: T[], path: string, what: string) => {
    const seen = new Set<T>();
    values.forEach((v, i) => {
      if (seen.has(v)) f.fail(`${path}[${i}]`, `repeats the ${what} ${String(v)}`);
      seen.add(v);
    });
  };
  unique(disks.map((d) => d.file), 'disks', 'file');
  unique(disks.map((d) => d.serial), 'disks', 'serial');
  // `nics` came later: a vm.json without it has the one NAT NIC every VM had.
  const network = f.object(top.network, 'network', (top.network as { nics?: unknown } | null)?.nics === undefined ? ['mac'] : ['mac', 'nics']);
  const mac = f.string(network.mac, 'network.mac', MAC, 'must be a MAC address such as 52:54:00:12:34:56 (lowercase hex)');
  if (parseInt(mac.slice(0, 2), 16) & 1) f.fail('network.mac', 'must be a unicast address (first octet even)');
  const nics = network.nics === undefined ? ['nat' as const] : f.array(network.nics, 'network.nics').map((kind, i) => {
    if (!NIC_KINDS.includes(kind as NicKind)) f.fail(`network.nics[${i}]`, `must be one of ${NIC_KINDS.join(', ')}`);
    return kind as NicKind;
  });
  if (disks.length + nics.length > MAX_DISKS) f.fail('network.nics', `the machine takes at most ${MAX_DISKS} disks and network cards together`);
  const linked = f.nullable(top.linkedClone, (v) => {
    const link = f.object(v, 'linkedClone', ['vm', 'snapshot']);
    return {
      vm: f.string(link.vm, 'linkedClone.vm', UUID, 'must be a VM id (uuid)'),
      snapshot: f.string(link.snapshot, 'linkedClone.snapshot', UUID, 'must be a snapshot id (uuid)'),
    };
  });
  const config: VmConfig = {
    version: VM_CONFIG_VERSION,
    id: f.string(top.id, 'id', UUID, 'must be a uuid (lowercase)'),
    name: f.string(top.name, 'name', VM_NAME.pattern, `must be ${VM_NAME.rule}`),
    created: f.string(top.created, 'created', ISO_TIME, 'must be a UTC time such as 2025-01-02T03:04:05.678Z'),
    preset: f.string(top.preset, 'preset', PRESET, 'must be a preset id (lowercase letters, digits, -)'),
    ...machine,
    disks,
    network: { mac, nics },
    machineId: f.string(top.machineId, 'machineId', MACHINE_ID, 'must be 32 lowercase hex digits'),
    savedState: f.nullable(top.savedState, (v) => f.string(v, 'savedState', STATE_FILE, 'must be a file under state/')),
    linkedClone: linked,
    snapshots: checkSnapshotTree(f, top.snapshots, disks.length),
  };
  if (/^0+$/.test(config.machineId)) f.fail('machineId', 'must not be all zeros');
  return config;
}

function checkSnapshotTree(f: Fields, value: unknown, diskCount: number): VmConfig['snapshots'] {
  const tree = f.object(value, 'snapshots', ['current', 'list']);
  const list = f.array(tree.list, 'snapshots.list').map((entry, i): SnapshotRecord => {
    const at = `snapshots.list[${i}]`;
    const s = f.object(entry, at, SNAPSHOT_KEYS);
    const disks = f.array(s.disks, `${at}.disks`).map((d, j) => f.string(d, `${at}.disks[${j}]`, DISK_FILE, 'must be a file under disks/'));
    if (disks.length !== diskCount) f.fail(`${at}.disks`, `must list one frozen image per VM disk (${diskCount})`);
    return {
      id: f.string(s.id, `${at}.id`, UUID, 'must be a uuid (lowercase)'),
      name: f.string(s.name, `${at}.name`, SNAPSHOT_NAME.pattern, `must be ${SNAPSHOT_NAME.rule}`),
      description: f.text(s.description, `${at}.description`, SNAPSHOT_DESCRIPTION_MAX),
      created: f.string(s.created, `${at}.created`, ISO_TIME, 'must be a UTC time such as 2025-01-02T03:04:05.678Z'),
      parent: f.nullable(s.parent, (v) => f.string(v, `${at}.parent`, UUID, 'must be a snapshot id (uuid) or null')),
      disks,
      state: f.nullable(s.state, (v) => f.string(v, `${at}.state`, SNAPSHOT_STATE, 'must be a file under snapshots/')),
      machine: checkMachine(f, f.object(s.machine, `${at}.machine`, ['cpus', 'memory', 'boot']), `${at}.machine`),
    };
  });
  const byId = new Map<string, number>();
  const names = new Set<string>();
  list.forEach((s, i) => {
    if (byId.has(s.id)) f.fail(`snapshots.list[${i}].id`, `repeats the id ${s.id}`);
    if (names.has(s.name)) f.fail(`snapshots.list[${i}].name`, `repeats the name "${s.name}"`);
    byId.set(s.id, i);
    names.add(s.name);
  });
  const parents = list.map((s, i) => {
    if (s.parent === null) return -1;
    const parent = byId.get(s.parent);
    if (parent === undefined) f.fail(`snapshots.list[${i}].parent`, `names no snapshot in the list (${s.parent})`);
    return parent;
  });
  // Walking up from every node must reach a root. Each node is walked once (linear in the list):
  // a walk stops at a node already known to reach a root; meeting a node of its own walk is a loop.
  const REACHES_ROOT = -1;
  const walkOf = new Array<number>(list.length).fill(0); // 0: not yet walked, i + 1: on walk i, REACHES_ROOT
  list.forEach((_, i) => {
    const path: number[] = [];
    for (let at = i; at !== -1 && walkOf[at] !== REACHES_ROOT; at = parents[at]!) {
      if (walkOf[at] === i + 1) f.fail(`snapshots.list[${i}].parent`, 'makes a loop in the snapshot tree');
      walkOf[at] = i + 1;
      path.push(at);
    }
    for (const at of path) walkOf[at] = REACHES_ROOT;
  });
  const current = f.nullable(tree.current, (v) => f.string(v, 'snapshots.current', UUID, 'must be a snapshot id (uuid) or null'));
  if (current !== null && !byId.has(current)) f.fail('snapshots.current', `names no snapshot in the list (${current})`);
  return { current, list };
}

/** vm.json text for a config (validated first: a bug must not write a file that cannot be read back). */
export function serializeVmConfig(config: VmConfig): string {
  checkVmConfig(JSON.parse(JSON.stringify(config)), 'vm.json (about to be written)');
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Parses vm.json text: malformed or truncated JSON is refused with the parser's reason. */
export function parseVmConfig(text: string, file: string): VmConfig {
  if (text.trim() === '') throw new VmConfigError(`${file}: is empty (damaged: it was left as it is)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new VmConfigError(`${file}: is not valid JSON (${(err as Error).message}); damaged or truncated, it was left as it is`);
  }
  return checkVmConfig(value, file);
}
