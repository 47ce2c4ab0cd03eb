// Issue 5's bars for running VMs, through the real `hangar vm` (the daemon started by
// `vm start --detach`) on the Debian guest: exactness of save/resume and of live snapshots with 1
// and 4 vCPUs, the testing loop (restore + exec 20 times), and two clients (the CLI and a
// WebSocket client of the daemon) seeing the same VMs and events.
//
// The witness is a guest process counting upward into a file on the VM's ext4 disk, a line per
// number: a log that reads 1..N without a gap or a repeat shows the process went on (a process
// started again would write 1 again; a lost write would leave a gap), and its last number says
// where in time the guest is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectOwner } from '../../../engine/daemon/owner.ts';
import type { ApiEvent } from '../../../engine/api/channels.ts';
import { guest, hangar, hangarAsync, hangarJson, scratchHome, stateOf } from './support.ts';

const home = scratchHome('hangar-vm-run-');
const COUNTER = 'i=0; while :; do i=$((i+1)); echo $i >> /mnt/d/log; sleep 0.1; done';

/** The counter's log, checked to read 1..N; N. */
async function count(vm: string): Promise<number> {
  const text = await guest(vm, 'cat /mnt/d/log');
  // The counter may be between a line's write and the next: only whole lines count.
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').slice(0, -1).map(Number);
  lines.forEach((n, i) => assert.equal(n, i + 1, `${vm}: log line ${i + 1} reads ${n}: the count did not go on where it was`));
  return lines.length;
}

async function countReaches(vm: string, target: number): Promise<number> {
  for (;;) {
    const n = await count(vm);
    if (n >= target) return n;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A booted guest with its disk formatted and mounted at /mnt/d and the counter running. */
async function bootCounting(vm: string, cpus: number): Promise<void> {
  await hangar('vm', 'create', vm, '--preset', 'debian', '--cpus', String(cpus), '--memory', '512M', '--disk-size', '256M');
  assert.match(await hangar('vm', 'start', vm, '--detach'), new RegExp(`VM "${vm}" is running`));
  await guest(vm, 'mkfs.ext4 -q /dev/vda && mkdir -p /mnt/d && mount /dev/vda /mnt/d');
  await guest(vm, `(${COUNTER}) </dev/null >/dev/null 2>&1 &`);
  await countReaches(vm, 10);
}

async function exactness(vm: string, cpus: number): Promise<void> {
  await bootCounting(vm, cpus);
  assert.equal((await guest(vm, 'grep -c ^processor /proc/cpuinfo')).trim(), String(cpus));

  // Suspend to disk and resume: the same process counts on, the log whole.
  const beforeSave = await count(vm);
  await hangar('vm', 'save', vm);
  assert.equal(await stateOf(vm), 'saved');
  await hangar('vm', 'start', vm, '--detach');
  const resumed = await count(vm);
  assert.ok(resumed >= beforeSave, `resumed at ${resumed}, saved after ${beforeSave}`);
  await countReaches(vm, resumed + 5);

  // A live snapshot; afterwards a marker (on the disk and in RAM) and more counting; restore.
  const atTake = await count(vm);
  await hangar('vm', 'snapshot', vm, 'take', 'live');
  const afterTake = await count(vm);
  await guest(vm, 'touch /mnt/d/marker /root/marker');
  const beforeRestore = await countReaches(vm, afterTake + 60);
  assert.match(await hangar('vm', 'snapshot', vm, 'restore', 'live'), /restored snapshot "live" \(the VM is running\)/);
  const restored = await count(vm);
  assert.ok(restored >= atTake && restored < beforeRestore, `restored log ends at ${restored}: the snapshot was taken between ${atTake} and ${afterTake}, the restore came at ${beforeRestore}`);
  assert.equal((await guest(vm, 'ls /mnt/d/marker /root/marker 2>/dev/null; echo end')).trim(), 'end', 'the marker is gone');
  await countReaches(vm, restored + 5); // the process runs again from the snapshot point
}

test('1 vCPU: save and resume continue the count, the log intact; a live snapshot restored takes the guest back, marker gone', { timeout: 1_800_000 }, async () => {
  await exactness('one', 1);
});

test('testing loop: restore a live snapshot and vm exec, 20 times (512 MiB guest)', { timeout: 1_800_000 }, async () => {
  const times: number[] = [];
  for (let round = 0; round < 20; round++) {
    const started = performance.now();
    await hangar('vm', 'snapshot', 'one', 'restore', 'live');
    assert.equal((await guest('one', 'test -e /mnt/d/marker; echo $?')).trim(), '1', 'the marker made after the snapshot is gone');
    times.push(performance.now() - started);
    await guest('one', 'touch /mnt/d/marker');
  }
  times.sort((a, b) => a - b);
  console.log(`restore + first exec through the CLI (two hangar processes): median ${(times[10]! / 1000).toFixed(1)} s, min ${(times[0]! / 1000).toFixed(1)} s, max ${(times[19]! / 1000).toFixed(1)} s`);
});

test('two clients (the CLI and a WebSocket client of the daemon) see the same VMs and the same events', { timeout: 600_000 }, async () => {
  const first = await connectOwner(home);
  const second = await connectOwner(home);
  assert.ok(first && second, 'the daemon serves the library');
  try {
    const seen: ApiEvent[][] = [[], []];
    first.client.subscribe((event) => seen[0]!.push(event));
    second.client.subscribe((event) => seen[1]!.push(event));
    const listed = await hangarJson<Array<{ id: string; state: string }>>('vm', 'list');
    assert.deepEqual((await first.client.invoke('vms:list', {})).map((v) => [v.id, v.state]), listed.map((v) => [v.id, v.state]));

    const states = (i: number) => seen[i]!.flatMap((e) => (e.type === 'vms:changed' ? [e.vms.find((v) => v.name === 'one')!.state] : []));
    await hangar('vm', 'pause', 'one');
    assert.equal((await first.client.invoke('vms:inspect', { vm: 'one' })).state, 'paused');
    const refused = await hangarAsync(['vm', 'exec', 'one', '--', 'true']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /VM "one" is paused: resume it first/);
    await second.client.invoke('vms:resume', { vm: 'one' });
    assert.equal(await stateOf('one'), 'running');
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const i of [0, 1]) assert.deepEqual(states(i).filter((s, k, all) => s !== all[k - 1]), ['paused', 'running'], `client ${i + 1}`);
    assert.deepEqual((await first.client.invoke('vms:exec', { vm: 'one', command: ['sh', '-c', 'echo $((6 * 7))'] })).stdout, new TextEncoder().encode('42\n'));

    // The serial console as a terminal: a command typed into the guest's shell on ttyS0 answers.
    const opened = await first.client.invoke('vms:console', { vm: 'one', cols: 80, rows: 24 });
    assert.equal(opened.kind, 'console');
    let output = '';
    first.client.subscribe((event) => {
      if (event.type === 'terminal:data' && event.terminal === opened.terminal) output += Buffer.from(event.data).toString('latin1');
    });
    await first.client.invoke('terminals:write', { terminal: opened.terminal, data: 'echo typed-$((40 + 2))\n' });
    for (let waited = 0; !output.includes('typed-42'); waited += 100) {
      assert.ok(waited < 60_000, `no answer on the console: ${JSON.stringify(output)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await first.client.invoke('terminals:close', { terminal: opened.terminal });
  } finally {
    first.close();
    second.close();
  }
});

test('4 vCPUs: save and resume, live snapshot and restore, exactly as with one', { timeout: 1_800_000 }, async () => {
  await hangar('vm', 'stop', 'one', '--force');
  await exactness('four', 4);
  await hangar('vm', 'stop', 'four');
  assert.equal(await stateOf('four'), 'powered-off');
});
