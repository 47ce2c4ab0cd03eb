// Issue 5's bars for clones and robustness, through the real `hangar vm` and its daemon on the
// Debian guest: a linked clone boots while its source runs, with its own machine id in
// /etc/machine-id, and neither sees the other's writes;
// a full clone survives deletion of its source; the daemon killed (SIGKILL) during a save, a
// snapshot and a restore leaves vm.json, the disks (qemu-img check) and the snapshots valid and
// the VM startable; state files from another VM, truncated or with a flipped bit are refused
// with a clear error and leave the VM as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStateFile, writeStateFile } from '../../../engine/machine/state-file.ts';
import { qemuCheck } from '../storage/support/qemu.ts';
import { daemonPid, guest, hangar, hangarAsync, hangarJson, killDaemon, scratchHome, stateOf, waitUntilGone } from './support.ts';

scratchHome('hangar-vm-robust-');
const MOUNT = 'mkdir -p /mnt/d && mount /dev/vda /mnt/d';

interface Info { folder: string; state: string; savedState: boolean }

async function createFormatted(vm: string): Promise<void> {
  await hangar('vm', 'create', vm, '--preset', 'debian', '--memory', '384M', '--disk-size', '128M');
  await hangar('vm', 'start', vm, '--detach');
  await guest(vm, `mkfs.ext4 -q /dev/vda && ${MOUNT}`);
}

/** Whether a file exists in the guest (through its agent). */
async function exists(vm: string, path: string): Promise<boolean> {
  return (await guest(vm, `test -e ${path}; echo $?`)).trim() === '0';
}

test('clones: a linked clone boots while its source runs, writes stay apart; a full clone survives deletion of its source', { timeout: 1_800_000 }, async () => {
  await createFormatted('source');
  await guest('source', 'echo base > /mnt/d/base && sync');

  const linked = await hangarJson<{ linkedClone: { snapshotName: string } }>('vm', 'clone', 'source', 'thin', '--linked');
  assert.equal(linked.linkedClone.snapshotName, 'linked clone thin');
  assert.equal(await stateOf('source'), 'running', 'the source ran on through the clone');
  await hangar('vm', 'start', 'thin', '--detach');
  await guest('thin', MOUNT);
  assert.equal(await guest('thin', 'cat /mnt/d/base'), 'base\n');
  // Each guest knows its own identity: the clone's fresh machine id, not its source's.
  const ids = { source: (await hangarJson<{ machineId: string }>('vm', 'info', 'source')).machineId, thin: (await hangarJson<{ machineId: string }>('vm', 'info', 'thin')).machineId };
  assert.notEqual(ids.thin, ids.source);
  assert.equal(await guest('source', 'cat /etc/machine-id'), `${ids.source}\n`);
  assert.equal(await guest('thin', 'cat /etc/machine-id'), `${ids.thin}\n`);
  await guest('source', 'echo s > /mnt/d/only-source && sync');
  await guest('thin', 'echo t > /mnt/d/only-thin && sync');
  assert.equal(await exists('thin', '/mnt/d/only-source'), false);
  assert.equal(await exists('source', '/mnt/d/only-thin'), false);
  assert.equal(await exists('source', '/mnt/d/only-source'), true);

  await hangar('vm', 'snapshot', 'source', 'take', 'for-full');
  await hangar('vm', 'clone', 'source', 'full', '--snapshot', 'for-full');
  await hangar('vm', 'stop', 'thin', '--force');
  await hangar('vm', 'rm', 'thin');
  await hangar('vm', 'stop', 'source', '--force');
  await hangar('vm', 'rm', 'source');
  await hangar('vm', 'start', 'full', '--detach');
  await guest('full', MOUNT);
  assert.equal(await guest('full', 'cat /mnt/d/base /mnt/d/only-source'), 'base\ns\n');
  await hangar('vm', 'stop', 'full', '--force');
});

/** vm.json loads, every disk image passes qemu-img check, the snapshots are listed, and the VM starts. */
async function stillValid(vm: string, snapshots: string[]): Promise<void> {
  const info = await hangarJson<Info>('vm', 'info', vm);
  assert.notEqual(info.state, 'running', 'the killed engine no longer holds it');
  for (const file of readdirSync(join(info.folder, 'disks'))) {
    const check = qemuCheck(join(info.folder, 'disks', file));
    assert.deepEqual({ corruptions: check.corruptions, errors: check.errors }, { corruptions: 0, errors: 0 }, `${vm}: ${file}`);
  }
  const tree = await hangarJson<{ roots: Array<{ name: string; children: unknown[] }> }>('vm', 'snapshot', vm, 'list');
  const names: string[] = [];
  const walk = (nodes: Array<{ name: string; children: unknown[] }>) => nodes.forEach((n) => { names.push(n.name); walk(n.children as typeof nodes); });
  walk(tree.roots);
  for (const name of snapshots) assert.ok(names.includes(name), `${vm}: snapshot "${name}" is still there (${names.join(', ')})`);
  await hangar('vm', 'start', vm, '--detach');
  assert.equal(await guest(vm, 'echo alive'), 'alive\n');
}

/** Runs a long `hangar vm` verb and kills the daemon once the verb reports `phase`. */
async function killDuring(args: string[], phase: RegExp): Promise<void> {
  let killed: number | null = null;
  const run = await hangarAsync(args, {
    onStderr: (text) => {
      if (killed === null && phase.test(text)) killed = killDaemon(process.env.HANGAR_HOME!);
    },
  });
  assert.ok(killed !== null, `hangar ${args.join(' ')} never reported ${phase}: ${run.stderr}`);
  await waitUntilGone(killed);
  assert.notEqual(run.status, 0, 'the verb failed with its engine');
}

test('robustness: the daemon killed during a save, a snapshot and a restore leaves the VM valid and startable', { timeout: 1_800_000 }, async () => {
  await createFormatted('sturdy');
  await guest('sturdy', 'echo kept > /mnt/d/kept && sync');
  await hangar('vm', 'snapshot', 'sturdy', 'take', 'first');

  await killDuring(['vm', 'save', 'sturdy'], /save state sturdy/);
  await stillValid('sturdy', ['first']);
  await killDuring(['vm', 'snapshot', 'sturdy', 'take', 'second'], /snapshot second/);
  await stillValid('sturdy', ['first']);
  await killDuring(['vm', 'snapshot', 'sturdy', 'restore', 'first'], /restore first/);
  await stillValid('sturdy', ['first']);
  await guest('sturdy', `mountpoint -q /mnt/d || ${MOUNT}`);
  assert.equal(await guest('sturdy', 'cat /mnt/d/kept'), 'kept\n');
});

test('state files: another VM\'s, a truncated and a bit-flipped one are refused with a clear error; the VM stays saved', { timeout: 1_800_000 }, async () => {
  if (daemonPid(process.env.HANGAR_HOME!) === null || (await stateOf('sturdy')) !== 'running') await hangar('vm', 'start', 'sturdy', '--detach');
  await hangar('vm', 'save', 'sturdy');
  const info = await hangarJson<Info>('vm', 'info', 'sturdy');
  const config = JSON.parse(readFileSync(join(info.folder, 'vm.json'), 'utf8')) as { savedState: string };
  const file = join(info.folder, ...config.savedState.split('/'));
  const good = readFileSync(file);

  const refused = async (damage: () => Promise<void> | void, message: RegExp) => {
    await damage();
    const run = await hangarAsync(['vm', 'start', 'sturdy', '--detach']);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, message);
    assert.equal(await stateOf('sturdy'), 'saved', 'the VM keeps its (damaged) saved state: nothing else touched');
    writeFileSync(file, good);
  };
  const loaded = await readStateFile(file);
  await refused(() => writeStateFile(file, { ...loaded, vm: randomUUID() }).then(() => undefined), /another VM/i);
  await refused(() => truncateSync(file, Math.floor(good.length / 2)), /truncated/i);
  await refused(() => {
    const flipped = Buffer.from(good);
    flipped[Math.floor(flipped.length * 0.6)]! ^= 0x10;
    writeFileSync(file, flipped);
  }, /checksum/i);

  // The good file is back: the VM resumes from it.
  await hangar('vm', 'start', 'sturdy', '--detach');
  assert.equal(await guest('sturdy', 'cat /mnt/d/kept'), 'kept\n');
});
