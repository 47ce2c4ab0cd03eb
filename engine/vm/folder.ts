// One VM's folder, and the rule that keeps it consistent across crashes: vm.json is the only
// commit point. Every operation first writes new files beside the old ones (a new disk overlay,
// a new state file), then replaces vm.json atomically; files vm.json no longer names are garbage,
// swept at the start of the next operation that holds the VM's lock. A crash anywhere leaves
// either the old vm.json with everything it names intact, or the new one with the same.
//
//   vm.json            the definition (config.ts)
//   vm.lock            held by a running machine for its whole run, or by one offline operation
//   boot/              firmware, kernel, initrd (never modified: replaced files get new names)
//   disks/             qcow2 images: the current overlays and the snapshots' frozen ones
//   snapshots/ID.hst   a snapshot's machine state (RAM, CPU, devices), when it has one
//   state/TAG.hst      the saved state of a suspended VM
import { constants, statSync } from 'node:fs';
import { copyFile, link, lstat, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { removeStaleTemporaries, writeFileAtomic } from '../common/atomic-file.ts';
import { lockHolder } from '../common/lock.ts';
import type { DiskConfig } from '../machine/disks.ts';
import type { MachineConfig } from '../machine/machine.ts';
import { macOfNic, parseVmConfig, serializeVmConfig, type MachineSettings, type VmConfig } from './config.ts';
import { VmNotFoundError } from './errors.ts';
import { newFileTag } from './identity.ts';
import type { VmState } from './types.ts';
export type { VmState } from './types.ts';

/** The purpose a running machine writes into vm.lock. */
export const RUNNING = 'running';

/** The sub-folders whose files vm.json names; anything else in them is garbage. */
const OWNED_FOLDERS = ['boot', 'disks', 'snapshots', 'state'] as const;

export class VmFolder {
  private constructor(readonly dir: string, public config: VmConfig) {}

  static async load(dir: string): Promise<VmFolder> {
    const file = join(dir, 'vm.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new VmNotFoundError(`${dir}: no vm.json (not a VM folder, or it was deleted)`);
      throw err;
    }
    return new VmFolder(dir, parseVmConfig(text, file));
  }

  get lockPath(): string {
    return join(this.dir, 'vm.lock');
  }

  /** The absolute path of a file vm.json names (paths there are relative, with '/'). */
  file(relative: string): string {
    return join(this.dir, ...relative.split('/'));
  }

  state(): VmState {
    if (lockHolder(this.lockPath)?.purpose === RUNNING) return 'running';
    return this.config.savedState ? 'saved' : 'powered-off';
  }

  /** Replaces vm.json (validated, written atomically): the commit point of every operation. */
  async commit(next: VmConfig): Promise<void> {
    await writeFileAtomic(join(this.dir, 'vm.json'), serializeVmConfig(next));
    this.config = next;
  }

  /** Every file vm.json names, relative to the folder. */
  referencedFiles(): Set<string> {
    const c = this.config;
    const boots = [c.boot, ...c.snapshots.list.map((s) => s.machine.boot)];
    return new Set([
      ...boots.flatMap((b) => [b.firmware, b.kernel, ...(b.initrd ? [b.initrd] : [])]),
      ...c.disks.map((d) => d.file),
      ...(c.savedState ? [c.savedState] : []),
      ...c.snapshots.list.flatMap((s) => [...s.disks, ...(s.state ? [s.state] : [])]),
    ]);
  }

  /** Removes what an interrupted operation left: files vm.json does not name, stale temporaries. */
  async sweep(): Promise<string[]> {
    const keep = this.referencedFiles();
    const removed = await removeStaleTemporaries(this.dir);
    for (const folder of OWNED_FOLDERS) {
      for (const name of await readdir(join(this.dir, folder)).catch(() => [] as string[])) {
        const relative = `${folder}/${name}`;
        if (keep.has(relative)) continue;
        await rm(join(this.dir, folder, name), { recursive: true, force: true });
        removed.push(relative);
      }
    }
    return removed;
  }

  /**
   * What the machine boots with, as absolute paths (for the running half). The VM's machine id
   * goes on the kernel command line (`hangar.machine_id=`), where the Debian guest's /init makes
   * it /etc/machine-id; other kernels ignore a parameter of a module they do not have.
   */
  machineConfig(settings: MachineSettings = this.config): MachineConfig {
    return {
      harts: settings.cpus,
      ramBytes: settings.memory * 1024 * 1024,
      firmwarePath: this.file(settings.boot.firmware),
      kernelPath: this.file(settings.boot.kernel),
      initrdPath: settings.boot.initrd ? this.file(settings.boot.initrd) : undefined,
      bootargs: `${settings.boot.append} hangar.machine_id=${this.config.machineId}`.trim(),
      nics: this.config.network.nics.map((kind, n) => ({ kind, mac: macOfNic(this.config.network.mac, n) })),
    };
  }

  /**
   * The disks as the machine opens them. Their backing chains stay in the library (this VM's
   * snapshots, a linked clone's source VM beside it): defence in depth should vm.json or an
   * image ever name a file elsewhere.
   */
  diskConfigs(): DiskConfig[] {
    const backingRoots = [dirname(this.dir)];
    return this.config.disks.map((d) => ({ path: this.file(d.file), readOnly: d.readOnly, serial: d.serial, backingRoots }));
  }

  /**
   * Suspend to disk, file side: `write` writes the machine state (state-file.ts) to the path it
   * is given; then vm.json names it. The previous saved state, if any, is swept.
   */
  async saveState(write: (path: string) => Promise<void>): Promise<void> {
    const relative = `state/${newFileTag()}.hst`;
    await write(this.file(relative));
    await this.commit({ ...this.config, savedState: relative });
    await this.sweep();
  }

  /** Forgets the saved state: the VM is powered off (a resume that consumed it does this too). */
  async discardSavedState(): Promise<void> {
    if (!this.config.savedState) return;
    await this.commit({ ...this.config, savedState: null });
    await this.sweep();
  }
}

/** Bytes a file occupies on the host (allocated blocks: sparse images count what they hold). */
export function allocatedBytes(path: string): number {
  const stat = statSync(path);
  return stat.blocks === undefined ? stat.size : stat.blocks * 512;
}

/** Allocated bytes of a folder tree. */
export async function folderBytes(path: string): Promise<number> {
  const stat = await lstat(path);
  if (!stat.isDirectory()) return stat.blocks === undefined ? stat.size : stat.blocks * 512;
  let total = 0;
  for (const name of await readdir(path)) total += await folderBytes(join(path, name));
  return total;
}

/**
 * Gives `destination` the content of `source`, which is never modified in place (boot files,
 * state files, the guest cache — all replaced by rename): a hard link costs nothing; where the
 * file system has none, a copy (a reflink where it can).
 */
export async function shareImmutableFile(source: string, destination: string): Promise<void> {
  try {
    await link(source, destination);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw err;
    await copyFile(source, destination, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  }
}
