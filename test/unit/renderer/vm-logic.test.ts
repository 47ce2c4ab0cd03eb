// The VM half of the renderer's logic: which toolbar actions a VM's state allows, the snapshot
// tree as the wizards list it (depth-first, with depths), and the names the wizards accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VmListEntry, VmRunState } from '../../../engine/api/channels.ts';
import type { SnapshotNode, SnapshotTree } from '../../../engine/vm/snapshots.ts';
import { vmActions } from '../../../renderer/src/app/actions.ts';
import { listSnapshots, nextSnapshotName, snapshotNameProblem } from '../../../renderer/src/app/snapshots.ts';
import { freeName, vmNameProblem } from '../../../renderer/src/app/validation.ts';

test('toolbar actions follow the VM state', () => {
  const actions = (state: VmRunState) => [...vmActions(state)].sort();
  assert.deepEqual(actions('powered-off'), ['clone', 'delete', 'restore', 'snapshot', 'start']);
  assert.deepEqual(actions('running'), ['delete', 'force-stop', 'pause', 'restore', 'save', 'snapshot', 'stop', 'terminal']);
  assert.deepEqual(actions('paused'), ['delete', 'force-stop', 'restore', 'resume', 'save', 'snapshot']);
  // A saved VM starts by resuming; it cannot be paused or saved again.
  assert.deepEqual(actions('saved'), ['clone', 'delete', 'restore', 'snapshot', 'start']);
  // In a transition only forcing it off is offered; while its state is written, nothing.
  assert.deepEqual(actions('starting'), ['force-stop']);
  assert.deepEqual(actions('stopping'), ['force-stop']);
  assert.deepEqual(actions('saving'), []);
  assert.deepEqual(actions('invalid'), ['delete']);
});

const node = (id: string, name: string, children: SnapshotNode[] = []): SnapshotNode => ({
  id, name, description: '', created: '2026-01-01T00:00:00.000Z', ram: false, cpus: 1, memory: 256, sizeOnDisk: 0, freedByDelete: 0, linkedClones: [], current: false, children,
});

test('the snapshot tree lists depth-first with depths; new names avoid the taken ones', () => {
  const tree: SnapshotTree = {
    roots: [node('a', 'base', [node('b', 'Snapshot 2', [node('c', 'deep')]), node('d', 'side')])],
    current: { parent: 'b', sizeOnDisk: 0 },
  };
  assert.deepEqual(listSnapshots(tree).map((s) => `${s.depth}:${s.node.id}`), ['0:a', '1:b', '2:c', '1:d']);
  assert.deepEqual(listSnapshots(undefined), []);
  // Four taken, "Snapshot 5" is free; "Snapshot 2" would not have been.
  assert.equal(nextSnapshotName(tree), 'Snapshot 5');
  assert.equal(nextSnapshotName({ roots: [node('x', 'Snapshot 2')], current: { parent: null, sizeOnDisk: 0 } }), 'Snapshot 3');
  assert.equal(snapshotNameProblem('side', tree), 'Name: a snapshot named "side" already exists.');
  assert.equal(snapshotNameProblem('  ', tree), 'Name: give the snapshot a name.');
  assert.match(snapshotNameProblem('x'.repeat(81), tree)!, /^Name: must be 1 to 80 characters/);
  assert.equal(snapshotNameProblem('fresh', tree), undefined);
});

test('VM names are checked as the engine will (limits.test.ts has the edges)', () => {
  const vms = [{ id: '1', name: 'web', state: 'powered-off' }] as VmListEntry[];
  assert.equal(vmNameProblem('web', vms), 'Name: a VM named "web" already exists.');
  assert.match(vmNameProblem('-web', vms)!, /starting with a letter or digit/);
  assert.match(vmNameProblem('a b', vms)!, /letters, digits/);
  assert.match(vmNameProblem('x'.repeat(65), vms)!, /1 to 64/);
  assert.equal(vmNameProblem('web-2.test_1', vms), undefined);
  assert.equal(freeName('web', ['web', 'web-2']), 'web-3');
  assert.equal(freeName('db', ['web']), 'db');
});
