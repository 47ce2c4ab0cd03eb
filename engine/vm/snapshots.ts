// Snapshots, disk side (the caller holds the VM's lock; library.ts takes it for offline use, a
// running machine holds it for its whole run and calls these with its own state writer).
//
// take     the current overlays become the snapshot's frozen images (vm.json stops writing to
//          them) and new empty overlays are made on top; RAM comes from the running machine's
//          state writer, or from the saved state of a suspended VM.
// restore  new empty overlays on the snapshot's frozen images; the old overlays are swept. The
//          hardware settings and the machine state (if it has one) come back with it.
// delete   the snapshot's frozen images are merged into each image backed by them — its child
//          snapshots' frozen images and, if it is the current state's parent, the current
//          overlays — so no child loses data; then the tree forgets it.
//
// Every step writes new files first and commits by replacing vm.json (folder.ts).
import { randomUUID } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { syncFolder } from '../common/atomic-file.ts';
import type { OperationOptions } from '../common/operation.ts';
import { createQcow2, mergeBackingInto, mergeGrowth, openDisk } from '../storage/index.ts';
import { checkSnapshotName, type SnapshotRecord, type VmConfig } from './config.ts';
import { VmConflictError, VmError, VmNotFoundError, VmStateError } from './errors.ts';
import { allocatedBytes, shareImmutableFile, type VmFolder } from './folder.ts';
import { newFileTag } from './identity.ts';
import type { SnapshotNode, SnapshotTree } from './types.ts';
export type { SnapshotNode, SnapshotTree } from './types.ts';

export interface TakeOptions {
  description?: string;
  /** Leave the machine's memory out even when there is some (a saved state, a running machine). */
  noRam?: boolean;
  /** A running machine's hook: writes its state (RAM, CPU, devices) to `path` while paused. */
  writeState?: (path: string) => Promise<void>;
}

export function findSnapshot(config: VmConfig, ref: string): SnapshotRecord {
  const found = config.snapshots.list.find((s) => s.id === ref) ?? config.snapshots.list.find((s) => s.name === ref);
  if (!found) throw new VmNotFoundError(`VM "${config.name}" has no snapshot "${ref}"`);
  return found;
}

/** New empty overlays on `bases` (one per disk, files in disks/), named with one fresh tag. */
async function overlaysOn(vm: VmFolder, bases: string[]): Promise<string[]> {
  const tag = newFileTag();
  const overlays = bases.map((base, i) => {
    const file = `disks/disk${i}-${tag}.qcow2`;
    createQcow2(vm.file(file), undefined, { backing: basename(base) });
    return file;
  });
  await syncFolder(vm.file('disks'));
  return overlays;
}

export async function takeSnapshot(vm: VmFolder, name: string, options: TakeOptions = {}): Promise<SnapshotRecord> {
  checkSnapshotName(name);
  const c = vm.config;
  if (c.snapshots.list.some((s) => s.name === name)) throw new VmConflictError(`VM "${c.name}" already has a snapshot named "${name}"`);
  const id = randomUUID();
  const frozen = c.disks.map((d) => d.file);
  const overlays = await overlaysOn(vm, frozen);
  let state: string | null = null;
  if (!options.noRam && (options.writeState || c.savedState)) {
    state = `snapshots/${id}.hst`;
    await mkdir(vm.file('snapshots'), { recursive: true });
    if (options.writeState) await options.writeState(vm.file(state));
    else await shareImmutableFile(vm.file(c.savedState!), vm.file(state));
    await syncFolder(vm.file('snapshots'));
  }
  const record: SnapshotRecord = {
    id,
    name,
    description: options.description ?? '',
    created: new Date().toISOString(),
    parent: c.snapshots.current,
    disks: frozen,
    state,
    machine: { cpus: c.cpus, memory: c.memory, boot: c.boot },
  };
  await vm.commit({
    ...c,
    disks: c.disks.map((d, i) => ({ ...d, file: overlays[i]! })),
    snapshots: { current: id, list: [...c.snapshots.list, record] },
  });
  for (const file of frozen) await chmod(vm.file(file), 0o444);
  return record;
}

export interface RestoreOptions {
  /** Take a snapshot of the current state under this name first, instead of discarding it. */
  saveCurrentAs?: string;
}

export async function restoreSnapshot(vm: VmFolder, ref: string, options: RestoreOptions = {}): Promise<SnapshotRecord> {
  const target = findSnapshot(vm.config, ref);
  if (options.saveCurrentAs !== undefined) await takeSnapshot(vm, options.saveCurrentAs);
  const c = vm.config;
  const overlays = await overlaysOn(vm, target.disks);
  let savedState: string | null = null;
  if (target.state) {
    savedState = `state/${newFileTag()}.hst`;
    await mkdir(vm.file('state'), { recursive: true });
    await shareImmutableFile(vm.file(target.state), vm.file(savedState));
    await syncFolder(vm.file('state'));
  }
  await vm.commit({
    ...c,
    ...target.machine,
    disks: c.disks.map((d, i) => ({ ...d, file: overlays[i]! })),
    savedState,
    snapshots: { ...c.snapshots, current: target.id },
  });
  await vm.sweep();
  return target;
}

/** The images backed by `snapshot`'s frozen ones: one list per child snapshot, and the current overlays. */
function childImages(config: VmConfig, snapshot: SnapshotRecord): Array<{ files: string[]; frozen: boolean }> {
  const children = config.snapshots.list.filter((s) => s.parent === snapshot.id).map((s) => ({ files: s.disks, frozen: true }));
  if (config.snapshots.current === snapshot.id) children.push({ files: config.disks.map((d) => d.file), frozen: false });
  return children;
}

/**
 * Deletes a snapshot, merging its frozen images into every image backed by them. `linkedClones`
 * names the VMs whose disks sit on this snapshot's images: they make it undeletable.
 */
export async function deleteSnapshot(vm: VmFolder, ref: string, linkedClones: string[], options: OperationOptions = {}): Promise<SnapshotRecord> {
  const c = vm.config;
  const target = findSnapshot(c, ref);
  if (linkedClones.length) {
    throw new VmStateError(`snapshot "${target.name}" of VM "${c.name}" holds the disks of linked clone(s) ${linkedClones.map((n) => `"${n}"`).join(', ')}: delete those first`);
  }
  for (const child of childImages(c, target)) {
    for (const [i, file] of child.files.entries()) {
      const path = vm.file(file);
      const disk = openDisk(path, { readOnly: true });
      const backing = disk.backing?.path;
      disk.close();
      if (backing !== vm.file(target.disks[i]!)) {
        throw new VmError(`${path}: its backing file is ${backing ?? 'none'}, not snapshot "${target.name}"'s image ${target.disks[i]}; vm.json and the disks disagree`);
      }
      // A frozen image is read-only; the merge leaves what it reads unchanged.
      if (child.frozen) await chmod(path, 0o644);
      await mergeBackingInto(path, options);
      if (child.frozen) await chmod(path, 0o444);
    }
  }
  await vm.commit({
    ...c,
    snapshots: {
      current: c.snapshots.current === target.id ? target.parent : c.snapshots.current,
      list: c.snapshots.list.filter((s) => s.id !== target.id).map((s) => (s.parent === target.id ? { ...s, parent: target.parent } : s)),
    },
  });
  await vm.sweep();
  return target;
}

export function snapshotTree(vm: VmFolder, linkedClonesOf: (snapshotId: string) => string[]): SnapshotTree {
  const c = vm.config;
  const nodes = new Map<string, SnapshotNode>();
  for (const s of c.snapshots.list) {
    const sizeOnDisk = [...s.disks, ...(s.state ? [s.state] : [])].reduce((sum, f) => sum + allocatedBytes(vm.file(f)), 0);
    const linkedClones = linkedClonesOf(s.id);
    const growth = childImages(c, s).flatMap((child) => child.files).reduce((sum, f) => sum + mergeGrowth(vm.file(f)), 0);
    nodes.set(s.id, {
      id: s.id,
      name: s.name,
      description: s.description,
      created: s.created,
      ram: s.state !== null,
      cpus: s.machine.cpus,
      memory: s.machine.memory,
      sizeOnDisk,
      freedByDelete: linkedClones.length ? null : sizeOnDisk - growth,
      linkedClones,
      current: c.snapshots.current === s.id,
      children: [],
    });
  }
  const roots: SnapshotNode[] = [];
  for (const s of c.snapshots.list) (s.parent ? nodes.get(s.parent)!.children : roots).push(nodes.get(s.id)!);
  const currentFiles = [...c.disks.map((d) => d.file), ...(c.savedState ? [c.savedState] : [])];
  return {
    roots,
    current: { parent: c.snapshots.current, sizeOnDisk: currentFiles.reduce((sum, f) => sum + allocatedBytes(vm.file(f)), 0) },
  };
}
