// `hangar vm` as a script uses it: the real command, HANGAR_HOME pointing at a scratch library,
// QEMU's own tools as the judge of the disks. qemu-io writes stand in for a guest's writes; each
// state is read back with `qemu-img convert -O raw` and every image passes `qemu-img check`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hangarSync } from '../../support/hangar-process.ts';
import { bootFiles } from '../../unit/vm/support.ts';
import { CLEAN, qemuCheck, qemuImg, qemuRaw } from '../storage/support/qemu.ts';

const home = mkdtempSync(join(tmpdir(), 'hangar-vm-cli-'));
process.on('exit', () => rmSync(home, { recursive: true, force: true }));
process.env.HANGAR_HOME = home; // inherited by every hangar the tests start
const boot = bootFiles(home);
const custom = ['--kernel', boot.kernel, '--initrd', boot.initrd, '--firmware', boot.firmware];
let serial = 0;

function hangar(...args: string[]): string {
  const result = hangarSync(args);
  assert.equal(result.status, 0, `hangar ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function hangarJson<T>(...args: string[]): T {
  return JSON.parse(hangar(...args, '--json')) as T;
}

interface Info { id: string; folder: string; name: string; state: string; disks: { file: string }[]; linkedClone: unknown }

const folders = new Map<string, string>();

/** The VM's folder (asked once: it is named by the VM's id and never moves). */
function folderOf(vm: string): string {
  if (!folders.has(vm)) folders.set(vm, hangarJson<Info>('vm', 'info', vm).folder);
  return folders.get(vm)!;
}

/** The VM's current disk, as its vm.json names it now. */
function currentDisk(vm: string): string {
  const config = JSON.parse(readFileSync(join(folderOf(vm), 'vm.json'), 'utf8')) as { disks: { file: string }[] };
  return join(folderOf(vm), config.disks[0]!.file);
}

/** The VM's current disk as QEMU reads it, through its whole chain. */
function vmRaw(vm: string): Buffer {
  return qemuRaw(currentDisk(vm), join(home, `raw-${serial++}`));
}

/** A guest's write, made with QEMU's qemu-io into the VM's current disk. */
function guestWrite(vm: string, byte: number, offset: string, length: string): void {
  execFileSync('qemu-io', ['-c', `write -P ${byte} ${offset} ${length}`, currentDisk(vm)], { stdio: 'ignore' });
}

/** Every image in the VM's disks/ passes qemu-img check. */
function qemuCheckAll(vm: string): void {
  const disks = join(folderOf(vm), 'disks');
  for (const file of readdirSync(disks)) assert.deepEqual(qemuCheck(join(disks, file)), CLEAN, `${vm}: ${file}`);
}

function refused(args: string[], status: number, message: RegExp): void {
  const result = hangarSync(args);
  assert.equal(result.status, status, `hangar ${args.join(' ')}: ${result.stderr}`);
  assert.match(result.stderr, message);
}

test('create, list, info: human and --json output; the library is $HANGAR_HOME/vms', () => {
  assert.equal(hangar('vm', 'list'), 'NAME                     STATE        CPUS   MEMORY SNAPSHOTS\n', 'an empty library: the header line, ended');
  assert.deepEqual(hangarJson('vm', 'list'), []);
  assert.match(hangar('vm', 'create', 'alpha', ...custom, '--cpus', '2', '--memory', '256M', '--disk-size', '64M'), /^created VM "alpha" \([0-9a-f-]{36}\)\n$/);
  const info = hangarJson<Info & { cpus: number; memory: number }>('vm', 'info', 'alpha');
  assert.equal(info.folder, join(home, 'vms', info.id));
  assert.deepEqual([info.cpus, info.memory, info.state], [2, 256, 'powered-off']);
  const disk = JSON.parse(qemuImg('info', '--output=json', join(info.folder, info.disks[0]!.file))) as Record<string, unknown>;
  assert.deepEqual([disk.format, disk['virtual-size']], ['qcow2', 64 << 20]);
  assert.deepEqual(hangarJson<{ name: string }[]>('vm', 'list').map((v) => v.name), ['alpha']);
  assert.match(hangar('vm', 'list'), /^NAME +STATE +CPUS +MEMORY +SNAPSHOTS\nalpha +powered-off +2 +256MiB +0\n$/);
  assert.match(hangar('vm', 'info', 'alpha'), /^name: +alpha\nid: +[0-9a-f-]{36}\nstate: +powered-off\n[\s\S]*disk 0: +disks\/disk0-[0-9a-f]{8}\.qcow2, 64\.0MiB virtual/);
});

test('modify: name, vCPUs, memory and kernel arguments of a powered-off VM; bad values refused with status 2, the VM unchanged', () => {
  hangar('vm', 'create', 'tune', ...custom, '--disk-size', '8M');
  const info = hangarJson<Info & { cpus: number; memory: number; boot: { append: string } }>('vm', 'modify', 'tune', '--name', 'tuned', '--cpus', '3', '--memory', '96M', '--append', 'console=ttyS0 loglevel=3');
  assert.deepEqual([info.name, info.cpus, info.memory, info.boot.append], ['tuned', 3, 96, 'console=ttyS0 loglevel=3']);
  assert.match(hangar('vm', 'list'), /^tuned\s+powered-off\s+3\s+96MiB/m);
  for (const [args, message] of [
    [['--cpus', '9'], /cpus/],
    [['--memory', '100000000'], /--memory 100000000: must be a whole number of MiB/],
    [[], /nothing to change/],
  ] as const) {
    const refused = hangarSync(['vm', 'modify', 'tuned', ...args]);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, message);
  }
  const unknown = hangarSync(['vm', 'modify', 'nowhere', '--cpus', '2']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /nowhere/);
  const after = hangarJson<{ cpus: number; memory: number }>('vm', 'info', 'tuned');
  assert.deepEqual([after.cpus, after.memory], [3, 96]);
  hangar('vm', 'rm', 'tuned');
});

test('the Debian preset: a VM with the Debian guest\'s boot files', () => {
  const info = hangarJson<Info & { preset: string; boot: { append: string } }>('vm', 'create', 'deb', '--preset', 'debian', '--disk-size', '1G');
  assert.deepEqual([info.preset, info.boot.append], ['debian', 'console=ttyS0']);
  const kernel = readFileSync(join(info.folder, 'boot', 'kernel'));
  assert.equal(kernel.subarray(0x38, 0x3c).toString('latin1'), 'RSC\x05', "Debian's kernel Image");
  hangar('vm', 'rm', 'deb');
});

test('a snapshot chain: restore brings each state back; deleting one merges it and keeps its children\'s bytes', () => {
  hangar('vm', 'create', 'chain', ...custom, '--disk-size', '16M');
  guestWrite('chain', 0x11, '0', '4M');
  assert.match(hangar('vm', 'snapshot', 'chain', 'take', 'one', '--no-ram'), /^took snapshot "one" \([0-9a-f-]{36}\), disks only\n$/);
  const atOne = vmRaw('chain');
  guestWrite('chain', 0x22, '2M', '4M');
  hangar('vm', 'snapshot', 'chain', 'take', 'two');
  const atTwo = vmRaw('chain');
  guestWrite('chain', 0x33, '5M', '2M');
  hangar('vm', 'snapshot', 'chain', 'take', 'three');
  const atThree = vmRaw('chain');
  guestWrite('chain', 0x44, '12M', '64k');
  const current = vmRaw('chain');

  hangar('vm', 'snapshot', 'chain', 'restore', 'one');
  assert.ok(vmRaw('chain').equals(atOne), 'restored to one');
  hangar('vm', 'snapshot', 'chain', 'restore', 'three');
  assert.ok(vmRaw('chain').equals(atThree), 'restored to three');
  guestWrite('chain', 0x44, '12M', '64k');
  assert.ok(vmRaw('chain').equals(current));

  // Delete the middle one: three (its child) and the current state (three's child) keep their bytes.
  assert.match(hangar('vm', 'snapshot', 'chain', 'rm', 'two'), /deleted snapshot "two"/);
  assert.ok(vmRaw('chain').equals(current), 'the current state after the merge');
  qemuCheckAll('chain');
  hangar('vm', 'snapshot', 'chain', 'restore', 'three');
  assert.ok(vmRaw('chain').equals(atThree), 'three after the merge');
  hangar('vm', 'snapshot', 'chain', 'restore', 'one');
  assert.ok(vmRaw('chain').equals(atOne), 'one is untouched');
  assert.ok(!atTwo.equals(atOne));
  qemuCheckAll('chain');

  const tree = hangarJson<{ roots: { name: string; sizeOnDisk: number; freedByDelete: number; children: { name: string }[] }[]; current: { parent: string } }>('vm', 'snapshot', 'chain', 'list');
  assert.deepEqual(tree.roots.map((r) => [r.name, r.children.map((c) => c.name)]), [['one', ['three']]]);
  assert.ok(tree.roots[0]!.sizeOnDisk >= 4 << 20, 'one holds its 4 MiB');
  const text = hangar('vm', 'snapshot', 'chain', 'list');
  assert.match(text, /^SNAPSHOT +CREATED +RAM +SIZE +DELETING FREES\none +\S+ +no +[\d.]+MiB +/);
  assert.match(text, /\n {2}three +\S+ +no +[\d.]+MiB +about [\d.]+MiB\n {2}\* current state/);
});

test('clones: full and linked disks pass qemu-img check and read the source\'s state; each diverges on its own', () => {
  hangar('vm', 'create', 'origin', ...custom, '--disk-size', '16M');
  guestWrite('origin', 0x55, '1M', '3M');
  hangar('vm', 'snapshot', 'origin', 'take', 'golden', '--no-ram');
  const atGolden = vmRaw('origin');
  guestWrite('origin', 0x66, '8M', '1M');
  const now = vmRaw('origin');

  assert.match(hangar('vm', 'clone', 'origin', 'twin'), /cloned "origin" as "twin" \([0-9a-f-]{36}, full copy\)/);
  assert.match(hangar('vm', 'clone', 'origin', 'thin', '--linked', '--snapshot', 'golden'), /linked to snapshot "golden"/);
  const auto = hangarJson<Info & { linkedClone: { snapshotName: string } }>('vm', 'clone', 'origin', 'auto', '--linked');
  assert.equal(auto.linkedClone.snapshotName, 'linked clone auto');
  for (const vm of ['twin', 'thin', 'auto']) qemuCheckAll(vm);
  assert.ok(vmRaw('twin').equals(now));
  assert.ok(vmRaw('thin').equals(atGolden));
  assert.ok(vmRaw('auto').equals(now));

  guestWrite('thin', 0x77, '0', '64k');
  guestWrite('origin', 0x88, '0', '64k');
  assert.equal(vmRaw('thin')[0], 0x77);
  assert.equal(vmRaw('origin')[0], 0x88);
  assert.equal(vmRaw('twin')[0], 0);

  refused(['vm', 'snapshot', 'origin', 'rm', 'golden'], 1, /snapshot "golden" of VM "origin" holds the disks of linked clone\(s\) "thin": delete those first/);
  refused(['vm', 'rm', 'origin'], 1, /VM "origin" holds the disks of linked clone\(s\) "thin", "auto"|VM "origin" holds the disks of linked clone\(s\) "auto", "thin"/);
  hangar('vm', 'rm', 'thin');
  hangar('vm', 'rm', 'auto');
  hangar('vm', 'rm', 'origin');
  assert.ok(vmRaw('twin').equals(now), 'the full clone survives its source');
});

test('exit statuses: 2 for bad input, 1 for refusals; damaged vm.json named by field and left alone; running VMs refused', async () => {
  const bare = hangarSync(['vm']);
  assert.equal(bare.status, 2);
  assert.match(bare.stdout, /^usage: hangar vm create NAME/);
  for (const verb of ['start', 'stop', 'pause', 'resume', 'save']) refused(['vm', verb, 'x'], 2, /^hangar vm: no VM named "x"\n$/);
  refused(['vm', 'exec', 'x', '--', 'true'], 2, /^hangar vm: no VM named "x"\n$/);
  refused(['vm', 'launch', 'x'], 2, /unknown vm command "launch"/);
  refused(['vm', 'info', 'nobody'], 2, /^hangar vm: no VM named "nobody"\n$/);
  refused(['vm', 'create', 'x', ...custom, '--memory', 'lots'], 2, /--memory: "lots" is not a size/);
  // The API's field path (vms:create.cpus) becomes what the user typed: the option, the positional.
  refused(['vm', 'create', 'x', ...custom, '--cpus', '12'], 2, /^hangar vm: --cpus: must be at most 8\n$/);
  refused(['vm', 'create', 'x', ...custom, '--disk-size=1'], 2, /^hangar vm: --disk-size: must be at least 1048576\n$/);
  refused(['vm', 'info', ''], 2, /^hangar vm: NAME: must not be empty\n$/);
  refused(['vm', 'create', 'x', '--kernel', boot.kernel], 2, /--kernel goes with --initrd F/);
  hangar('vm', 'create', 'taken', ...custom, '--disk-size', '1M');
  refused(['vm', 'create', 'taken', ...custom], 2, /a VM named "taken" already exists/);
  refused(['vm', 'snapshot', 'taken', 'restore', 'nothing'], 2, /VM "taken" has no snapshot "nothing"/);

  const info = hangarJson<Info>('vm', 'info', 'taken');
  // A running machine holds the VM's lock: offline commands are refused at once.
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    writeFileSync(join(info.folder, 'vm.lock'), JSON.stringify({ pid: holder.pid, purpose: 'running' }));
    assert.equal(hangarJson<Info>('vm', 'info', 'taken').state, 'running');
    refused(['vm', 'rm', 'taken'], 1, new RegExp(`VM "taken" is running \\(process ${holder.pid}\\); stop it first`));
    refused(['vm', 'snapshot', 'taken', 'take', 's', '--no-ram'], 1, /is running/);
  } finally {
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
  }
  hangar('vm', 'snapshot', 'taken', 'take', 's', '--no-ram'); // the dead holder's lock is taken over

  const file = join(info.folder, 'vm.json');
  const damaged = readFileSync(file, 'utf8').replace('"memory": 512', '"memory": 5');
  writeFileSync(file, damaged);
  refused(['vm', 'info', 'taken'], 1, /vm\.json: memory: must be a whole number of MiB from 16 to 3072/);
  refused(['vm', 'snapshot', 'taken', 'take', 'again'], 1, /vm\.json: memory/);
  assert.match(hangar('vm', 'list'), /taken +invalid +.*vm\.json: memory/);
  assert.equal(readFileSync(file, 'utf8'), damaged, 'never rewritten');
  hangar('vm', 'rm', 'taken');
});
