// The VM library: a folder of VM folders ($HANGAR_HOME/vms), each named by its VM's id so that
// a rename changes nothing on disk and a linked clone's backing path into its source stays valid.
//
//   vms/library.lock          held while a name is claimed or a VM deleted (names are unique)
//   vms/UUID/                 one VM (folder.ts)
//   vms/.new-UUID-PID/        a VM being created or cloned; its `name` file reserves the name
//   vms/.trash-UUID-PID/      a VM being deleted
// A VM folder appears and disappears by one rename, so a crash never leaves half a VM listed;
// leftovers of dead processes are swept when the library lock is next taken.
//
// Offline operations take the VM's lock (folder.ts) and are refused at once while a machine
// holds it for running; holdForRunning is how the running half takes it.
import { randomUUID } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { syncFolder, writeFileAtomic } from '../common/atomic-file.ts';
import { hangarHome } from '../common/hangar-home.ts';
import { acquireLock, withLock, type HeldLock, type LockHolder } from '../common/lock.ts';
import type { OperationOptions } from '../common/operation.ts';
import { isProcessAlive } from '../common/process.ts';
import { cachedDebianGuest, ensureDebianGuest } from '../guests/debian.ts';
import { checkBootImages } from '../machine/boot.ts';
import { MAX_DISKS } from '../machine/virt.ts';
import { convertDisk, createQcow2, diskInfo } from '../storage/index.ts';
import {
  checkVmName, MAX_CPUS, MAX_MEMORY_MIB, MIN_MEMORY_MIB, serializeVmConfig, UUID, VM_CONFIG_VERSION, NIC_KINDS, type NicKind,
  type BootConfig, type MachineSettings, type SnapshotRecord, type VmConfig,
} from './config.ts';
import { VmArgumentError, VmConflictError, VmError, VmNotFoundError, VmStateError } from './errors.ts';
import { folderBytes, allocatedBytes, RUNNING, shareImmutableFile, VmFolder, type VmState } from './folder.ts';
import { newDiskSerial, newFileTag, newMachineId, newMacAddress } from './identity.ts';
import { loadPreset } from './presets.ts';
import {
  deleteSnapshot, findSnapshot, restoreSnapshot, snapshotTree, takeSnapshot,
  type RestoreOptions, type SnapshotTree, type TakeOptions,
} from './snapshots.ts';
import type { VmSummary, VmDiskInfo, VmInfo } from './types.ts';
export type { VmSummary, VmDiskInfo, VmInfo } from './types.ts';

export function defaultVmsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(hangarHome(env), 'vms');
}

export interface CreateVmOptions {
  name: string;
  /** Preset id (assets/presets); default "custom" when a kernel is given, else "debian". */
  preset?: string;
  kernel?: string;
  initrd?: string;
  firmware?: string;
  append?: string;
  cpus?: number;
  /** MiB. */
  memory?: number;
  /** Bytes of the new empty disk. */
  diskSize?: number;
  /** An existing disk image (raw or qcow2, any chain) copied in as the VM's disk instead of an empty one. */
  disk?: string;
  /** Network cards; default one NAT NIC, [] for none. */
  nics?: NicKind[];
}

export interface ModifyVmOptions {
  name?: string;
  cpus?: number;
  /** MiB. */
  memory?: number;
  append?: string;
}

export interface CloneOptions {
  /** The new VM's disks are overlays on a snapshot's frozen images instead of full copies. */
  linked?: boolean;
  /** Clone the state of this snapshot (name or id) rather than the current one. */
  snapshot?: string;
}

/** A machine's hold on its VM for as long as it runs: offline operations are refused meanwhile. */
export interface RunningVm {
  readonly folder: VmFolder;
  release(): Promise<void>;
}

const NEW = /^\.new-([0-9a-f-]{36})-(\d+)$/;
const TRASH = /^\.trash-([0-9a-f-]{36})-(\d+)$/;

function runningRefusal(name: string) {
  return (holder: LockHolder) => (holder.purpose === RUNNING ? new VmStateError(`VM "${name}" is running (process ${holder.pid}); stop it first`) : undefined);
}

/** The name in a vm.json without validating the rest (to find, list and delete damaged VMs). */
async function looseName(dir: string): Promise<string | null> {
  try {
    const name = (JSON.parse(await readFile(join(dir, 'vm.json'), 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : null;
  } catch {
    return null;
  }
}

export class VmLibrary {
  readonly root: string;

  constructor(root: string = defaultVmsRoot()) {
    this.root = resolve(root);
  }

  private get lockPath(): string {
    return join(this.root, 'library.lock');
  }

  /** The library lock, with leftovers of dead processes swept first. */
  private async withLibraryLock<T>(section: () => Promise<T>): Promise<T> {
    await mkdir(this.root, { recursive: true });
    return withLock(this.lockPath, async () => {
      for (const entry of await readdir(this.root)) {
        const m = NEW.exec(entry) ?? TRASH.exec(entry);
        if (m && (TRASH.test(entry) || !isProcessAlive(Number(m[2])))) await rm(join(this.root, entry), { recursive: true, force: true });
      }
      return section();
    }, { purpose: 'library' });
  }

  private async vmFolders(): Promise<string[]> {
    const entries = await readdir(this.root).catch(() => [] as string[]);
    return entries.filter((e) => UUID.test(e)).sort().map((e) => join(this.root, e));
  }

  /** The folder of the VM named `ref` (or with that id). */
  private async locate(ref: string): Promise<string> {
    const dirs = await this.vmFolders();
    const byId = dirs.find((d) => basename(d) === ref);
    if (byId) return byId;
    for (const dir of dirs) if ((await looseName(dir)) === ref) return dir;
    throw new VmNotFoundError(`no VM named "${ref}"`);
  }

  /** Runs `section` on a VM under its lock (refused while it runs), after sweeping its folder. */
  private async withVm<T>(ref: string, purpose: string, section: (vm: VmFolder) => Promise<T>): Promise<T> {
    const dir = await this.locate(ref);
    try {
      return await withLock(join(dir, 'vm.lock'), async () => {
        const vm = await VmFolder.load(dir);
        await vm.sweep();
        return section(vm);
      }, { purpose, refuse: runningRefusal(ref) });
    } catch (err) {
      // The folder vanished under us: deleted by another process while we waited.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(dir)) throw new VmNotFoundError(`no VM named "${ref}"`);
      throw err;
    }
  }

  /** Names in use: VMs (damaged ones too) and creations in progress. */
  private async takenNames(): Promise<Set<string>> {
    // Staging folders first: one published meanwhile is then seen as a VM folder instead.
    const names = new Set<string>();
    for (const entry of await readdir(this.root)) {
      const m = NEW.exec(entry);
      if (m && isProcessAlive(Number(m[2]))) names.add(await readFile(join(this.root, entry, 'name'), 'utf8').catch(() => ''));
    }
    for (const dir of await this.vmFolders()) {
      const name = await looseName(dir);
      if (name) names.add(name);
    }
    return names;
  }

  /** Claims `name` for a new VM: a staging folder that becomes the VM by one rename. */
  private async reserve(id: string, name: string): Promise<string> {
    checkVmName(name);
    return this.withLibraryLock(async () => {
      if ((await this.takenNames()).has(name)) throw new VmConflictError(`a VM named "${name}" already exists`);
      const staging = join(this.root, `.new-${id}-${process.pid}`);
      await mkdir(staging);
      await writeFile(join(staging, 'name'), name);
      for (const folder of ['boot', 'disks', 'snapshots', 'state']) await mkdir(join(staging, folder));
      return staging;
    });
  }

  /** Writes the new VM's vm.json and moves its staging folder into place, everything in it durable first. */
  private async publish(staging: string, config: VmConfig): Promise<void> {
    for (const folder of ['boot', 'disks']) await syncFolder(join(staging, folder));
    await writeFileAtomic(join(staging, 'vm.json'), serializeVmConfig(config));
    // Renamed with its name claim inside, so a racing create sees the name at every moment.
    const folder = join(this.root, config.id);
    await rename(staging, folder);
    await syncFolder(this.root);
    await rm(join(folder, 'name'));
  }

  /** The VMs whose disks sit on one of `vmId`'s snapshots, and which snapshot. */
  private async linkedClonesOf(vmId: string): Promise<Array<{ name: string; snapshot: string }>> {
    const clones = [];
    for (const dir of await this.vmFolders()) {
      const link = await VmFolder.load(dir).then((f) => f.config, () => null);
      if (link?.linkedClone?.vm === vmId) clones.push({ name: link.name, snapshot: link.linkedClone.snapshot });
    }
    return clones;
  }

  async list(): Promise<VmSummary[]> {
    const out: VmSummary[] = [];
    for (const dir of await this.vmFolders()) {
      try {
        const vm = await VmFolder.load(dir);
        const c = vm.config;
        out.push({ id: c.id, name: c.name, state: vm.state(), cpus: c.cpus, memory: c.memory, snapshots: c.snapshots.list.length });
      } catch (err) {
        if (!(err instanceof VmError)) throw err;
        out.push({ id: dir.slice(this.root.length + 1), name: (await looseName(dir)) ?? '?', state: 'invalid', problem: err.message });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async info(ref: string): Promise<VmInfo> {
    const vm = await VmFolder.load(await this.locate(ref));
    const c = vm.config;
    let linkedClone: VmInfo['linkedClone'] = null;
    if (c.linkedClone) {
      const source = await VmFolder.load(join(this.root, c.linkedClone.vm)).catch(() => null);
      linkedClone = {
        vm: c.linkedClone.vm,
        vmName: source?.config.name ?? null,
        snapshot: c.linkedClone.snapshot,
        snapshotName: source?.config.snapshots.list.find((s) => s.id === c.linkedClone!.snapshot)?.name ?? null,
      };
    }
    const current = c.snapshots.list.find((s) => s.id === c.snapshots.current);
    return {
      id: c.id,
      name: c.name,
      folder: vm.dir,
      state: vm.state(),
      created: c.created,
      preset: c.preset,
      cpus: c.cpus,
      memory: c.memory,
      boot: c.boot,
      disks: c.disks.map((d) => ({ ...d, virtualSize: diskInfo(vm.file(d.file)).virtualSize, sizeOnDisk: allocatedBytes(vm.file(d.file)) })),
      mac: c.network.mac,
      nics: c.network.nics,
      machineId: c.machineId,
      savedState: c.savedState !== null,
      linkedClone,
      linkedClones: (await this.linkedClonesOf(c.id)).map((l) => l.name),
      snapshots: c.snapshots.list.length,
      currentSnapshot: current ? { id: current.id, name: current.name } : null,
      sizeOnDisk: await folderBytes(vm.dir),
    };
  }

  async create(options: CreateVmOptions, op: OperationOptions = {}): Promise<VmInfo> {
    checkVmName(options.name);
    const preset = await loadPreset(options.preset ?? (options.kernel !== undefined ? 'custom' : 'debian'));
    const cpus = checkRange(options.cpus ?? preset.cpus, 1, MAX_CPUS, 'cpus', '');
    const memory = checkRange(options.memory ?? preset.memory, MIN_MEMORY_MIB, MAX_MEMORY_MIB, 'memory', ' of MiB');
    if (options.disk !== undefined && options.diskSize !== undefined) throw new VmArgumentError('a disk image to copy and a disk size exclude each other');
    const diskSize = options.diskSize ?? preset.diskGiB * 1024 ** 3;
    if (!Number.isSafeInteger(diskSize) || diskSize < 1024 * 1024 || diskSize % 512 !== 0) {
      throw new VmArgumentError(`disk size ${diskSize}: must be at least 1 MiB and a whole number of 512-byte sectors`);
    }
    const nics = options.nics ?? ['nat'];
    for (const kind of nics) if (!NIC_KINDS.includes(kind)) throw new VmArgumentError(`network card "${kind}": must be one of ${NIC_KINDS.join(', ')}`);
    if (nics.length > MAX_DISKS - 1) throw new VmArgumentError(`${nics.length} network cards: the machine takes at most ${MAX_DISKS - 1} beside its disk`);
    const sources = await this.bootSources(preset.boot, options, op);
    const append = options.append ?? preset.append ?? sources.append;
    checkBoot({ cpus, memory, boot: { firmware: sources.firmware, kernel: sources.kernel, initrd: sources.initrd ?? null, append } });

    const id = randomUUID();
    const staging = await this.reserve(id, options.name);
    try {
      const boot: BootConfig = { firmware: 'boot/firmware', kernel: 'boot/kernel', initrd: sources.initrd !== undefined ? 'boot/initrd' : null, append };
      // Files from Hangar's guest cache are replaced only by rename there: a link is a safe copy.
      // The user's own files may be rebuilt in place: those are copied.
      const bring = (source: string, target: string) => (sources.fromCache
        ? shareImmutableFile(source, join(staging, target))
        : copyFile(source, join(staging, target), constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE));
      await bring(sources.firmware, boot.firmware);
      await bring(sources.kernel, boot.kernel);
      if (sources.initrd) await bring(sources.initrd, boot.initrd!);
      const disk = `disks/disk0-${newFileTag()}.qcow2`;
      if (options.disk !== undefined) {
        await convertDisk(options.disk, join(staging, disk), {
          format: 'qcow2',
          backingRoots: [dirname(resolve(options.disk))], // an image from outside: its chain stays in its folder
          signal: op.signal,
          onProgress: (done, total) => op.onProgress?.({ phase: 'copy disk', item: options.disk, done, total }),
        });
      } else {
        createQcow2(join(staging, disk), diskSize);
      }
      await this.publish(staging, {
        version: VM_CONFIG_VERSION,
        id,
        name: options.name,
        created: new Date().toISOString(),
        preset: preset.id,
        cpus,
        memory,
        boot,
        disks: [{ file: disk, serial: newDiskSerial(), readOnly: false }],
        network: { mac: newMacAddress(), nics },
        machineId: newMachineId(),
        savedState: null,
        linkedClone: null,
        snapshots: { current: null, list: [] },
      });
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
    return this.info(id);
  }

  /** Where a new VM's boot files come from, per its preset. */
  private async bootSources(kind: 'debian-guest' | 'files', options: CreateVmOptions, op: OperationOptions) {
    if (kind === 'debian-guest') {
      if (options.kernel !== undefined || options.initrd !== undefined) {
        throw new VmArgumentError('the debian preset boots the Debian guest\'s own kernel and initrd; a kernel and initrd of your own make a custom VM');
      }
      if (options.firmware !== undefined) throw new VmArgumentError('the debian preset boots Debian\'s OpenSBI; a firmware of your own goes with a kernel of your own');
      const guest = await ensureDebianGuest({
        signal: op.signal,
        onProgress: (_line, p) => op.onProgress?.({ phase: `guest ${p.phase}`, item: p.item, done: p.done, total: p.total }),
      });
      return { firmware: guest.firmware, kernel: guest.kernel, initrd: guest.initrd as string | undefined, append: guest.bootargs, fromCache: true };
    }
    if (options.kernel === undefined) throw new VmArgumentError('the custom preset needs a kernel');
    let firmware = options.firmware;
    if (firmware === undefined) {
      firmware = (await cachedDebianGuest())?.firmware;
      if (firmware === undefined || !existsSync(firmware)) {
        throw new VmArgumentError('a firmware file is needed: there is no OpenSBI in the guest cache (fetching the Debian guest brings Debian\'s)');
      }
    }
    for (const [what, path] of [['kernel', options.kernel], ['initrd', options.initrd], ['firmware', firmware]] as const) {
      if (path !== undefined && !existsSync(path)) throw new VmArgumentError(`${what} ${path}: no such file`);
    }
    return { firmware, kernel: options.kernel, initrd: options.initrd, append: 'console=ttyS0', fromCache: false };
  }

  /** Changes a powered-off VM's name or hardware. Hardware changes wait until a saved state is gone. */
  async modify(ref: string, changes: ModifyVmOptions): Promise<VmInfo> {
    const change = async () => this.withVm(ref, 'modify', async (vm) => {
      const c = vm.config;
      const hardware = changes.cpus !== undefined || changes.memory !== undefined || changes.append !== undefined;
      if (hardware && c.savedState) {
        throw new VmStateError(`VM "${c.name}" has a saved state made with its current hardware; start it and shut it down, or discard the saved state, first`);
      }
      if (changes.name !== undefined && changes.name !== c.name && (await this.takenNames()).has(changes.name)) {
        throw new VmConflictError(`a VM named "${changes.name}" already exists`);
      }
      const next: VmConfig = {
        ...c,
        name: changes.name ?? c.name,
        cpus: changes.cpus === undefined ? c.cpus : checkRange(changes.cpus, 1, MAX_CPUS, 'cpus', ''),
        memory: changes.memory === undefined ? c.memory : checkRange(changes.memory, MIN_MEMORY_MIB, MAX_MEMORY_MIB, 'memory', ' of MiB'),
        boot: { ...c.boot, append: changes.append ?? c.boot.append },
      };
      if (hardware) checkBoot({ ...next, boot: { ...next.boot, ...absoluteBoot(vm, next.boot) } });
      await vm.commit(next);
      return next.id;
    });
    if (changes.name !== undefined) checkVmName(changes.name);
    const id = changes.name !== undefined ? await this.withLibraryLock(change) : await change();
    return this.info(id);
  }

  async discardSavedState(ref: string): Promise<void> {
    await this.withVm(ref, 'discard saved state', (vm) => vm.discardSavedState());
  }

  /** Deletes a VM and everything in its folder; refused while it runs or linked clones sit on it. */
  async remove(ref: string): Promise<void> {
    const trash = await this.withLibraryLock(async () => {
      const dir = await this.locate(ref);
      const id = dir.slice(this.root.length + 1);
      return withLock(join(dir, 'vm.lock'), async () => {
        const clones = await this.linkedClonesOf(id);
        if (clones.length) {
          throw new VmStateError(`VM "${ref}" holds the disks of linked clone(s) ${clones.map((l) => `"${l.name}"`).join(', ')}: delete those first`);
        }
        const aside = join(this.root, `.trash-${id}-${process.pid}`);
        await rename(dir, aside);
        await syncFolder(this.root);
        return aside;
      }, { purpose: 'delete', refuse: runningRefusal(ref) });
    });
    await rm(trash, { recursive: true, force: true });
  }

  async takeSnapshot(ref: string, name: string, options: TakeOptions = {}): Promise<SnapshotRecord> {
    return this.withVm(ref, 'snapshot take', (vm) => takeSnapshot(vm, name, options));
  }

  async restoreSnapshot(ref: string, snapshot: string, options: RestoreOptions = {}): Promise<SnapshotRecord> {
    return this.withVm(ref, 'snapshot restore', (vm) => restoreSnapshot(vm, snapshot, options));
  }

  async deleteSnapshot(ref: string, snapshot: string, op: OperationOptions = {}): Promise<SnapshotRecord> {
    return this.withVm(ref, 'snapshot delete', async (vm) => {
      const target = findSnapshot(vm.config, snapshot);
      const clones = (await this.linkedClonesOf(vm.config.id)).filter((l) => l.snapshot === target.id);
      return deleteSnapshot(vm, target.id, clones.map((l) => l.name), op);
    });
  }

  async snapshots(ref: string): Promise<SnapshotTree> {
    const vm = await VmFolder.load(await this.locate(ref));
    const clones = await this.linkedClonesOf(vm.config.id);
    return snapshotTree(vm, (id) => clones.filter((l) => l.snapshot === id).map((l) => l.name));
  }

  /**
   * A new VM with the source's disks (current state, or a snapshot's) and a fresh identity. Full:
   * flattened copies. Linked: overlays on a snapshot's frozen images (one is taken, named
   * "linked clone NEW", when none is given). Machine state (RAM) is never cloned: it belongs to
   * the source's identity; the clone starts powered off. `running`: the source's folder as the
   * machine running it holds it (runners.ts), cloned from a snapshot without taking its lock.
   */
  async clone(ref: string, newName: string, options: CloneOptions = {}, op: OperationOptions = {}, running?: VmFolder): Promise<VmInfo> {
    const id = randomUUID();
    const staging = await this.reserve(id, newName);
    try {
      const underLock = (section: (source: VmFolder) => Promise<void>) => (running ? section(running) : this.withVm(ref, 'clone', section));
      await underLock(async (source) => {
        let snapshot = options.snapshot !== undefined ? findSnapshot(source.config, options.snapshot) : null;
        if (options.linked && !snapshot) snapshot = await takeSnapshot(source, `linked clone ${newName}`, { noRam: true });
        const c = source.config;
        const machine: MachineSettings = snapshot?.machine ?? c;
        const images = snapshot?.disks ?? c.disks.map((d) => d.file);
        for (const file of [machine.boot.firmware, machine.boot.kernel, machine.boot.initrd]) {
          if (file) await shareImmutableFile(source.file(file), join(staging, ...file.split('/')));
        }
        const tag = newFileTag();
        const disks = [];
        for (const [i, image] of images.entries()) {
          const file = `disks/disk${i}-${tag}.qcow2`;
          const target = join(staging, ...file.split('/'));
          if (options.linked) {
            // Named relative to where the clone will live, beside its source in the library.
            createQcow2(target, undefined, { backing: relative(join(this.root, id, 'disks'), source.file(image)) });
          } else {
            await convertDisk(source.file(image), target, {
              format: 'qcow2',
              signal: op.signal,
              onProgress: (done, total) => op.onProgress?.({ phase: 'clone', item: `disk${i}`, done, total }),
            });
          }
          disks.push({ file, serial: newDiskSerial(), readOnly: c.disks[i]!.readOnly });
        }
        // Published while the source is still locked: a snapshot delete then sees the link.
        await this.publish(staging, {
          version: VM_CONFIG_VERSION,
          id,
          name: newName,
          created: new Date().toISOString(),
          preset: c.preset,
          cpus: machine.cpus,
          memory: machine.memory,
          boot: machine.boot,
          disks,
          network: { mac: newMacAddress(), nics: c.network.nics },
          machineId: newMachineId(),
          savedState: null,
          linkedClone: options.linked ? { vm: c.id, snapshot: snapshot!.id } : null,
          snapshots: { current: null, list: [] },
        });
      });
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
    return this.info(id);
  }

  /** The running half's hold on a VM: its lock, with purpose "running", until release(). */
  async holdForRunning(ref: string): Promise<RunningVm> {
    const dir = await this.locate(ref);
    const lock: HeldLock = await acquireLock(join(dir, 'vm.lock'), { purpose: RUNNING, refuse: runningRefusal(ref) });
    try {
      const folder = await VmFolder.load(dir);
      await folder.sweep();
      return { folder, release: () => lock.release() };
    } catch (err) {
      await lock.release();
      throw err;
    }
  }
}

function checkRange(value: number, min: number, max: number, what: string, unit: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new VmArgumentError(`${what} ${value}: must be a whole number${unit} from ${min} to ${max}`);
  return value;
}

function absoluteBoot(vm: VmFolder, boot: BootConfig): BootConfig {
  return { ...boot, firmware: vm.file(boot.firmware), kernel: vm.file(boot.kernel), initrd: boot.initrd && vm.file(boot.initrd) };
}

/** The board's own check that the files boot with these settings (a kernel, an initrd that fits). */
function checkBoot(settings: MachineSettings): void {
  checkBootImages({
    harts: settings.cpus,
    ramBytes: settings.memory * 1024 * 1024,
    firmwarePath: settings.boot.firmware,
    kernelPath: settings.boot.kernel,
    initrdPath: settings.boot.initrd ?? undefined,
    bootargs: settings.boot.append,
  });
}
