// The VM half of the renderer's logic: which toolbar actions a VM's state allows, the snapshot
// tree as the wizards list it (depth-first, with depths), and the names the wizards accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VmListEntry, VmRunState } from '../../../engine/api/channels.ts';
import type { SnapshotNode, SnapshotTree } from '../../../engine/vm/snapshots.ts';
import { vmActions } from '../../../renderer/src/app/actions.ts';
import { listSnapshots, nextSnapshotName, snapshotNameProblem } from '../../../renderer/src/app/snapshots.ts';
import { freeName, vmNameProblem, wholeNumberProblem } from '../../../renderer/src/app/validation.ts';

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
  assert.equal(snapshotNameProblem('x'.repeat(129), tree), 'Name: at most 128 characters.');
  assert.equal(snapshotNameProblem('fresh', tree), undefined);
});

test('VM names and numbers are checked as the engine will', () => {
  const vms = [{ id: '1', name: 'web', state: 'powered-off' }] as VmListEntry[];
  assert.equal(vmNameProblem('web', vms), 'Name: a VM named "web" already exists.');
  assert.match(vmNameProblem('-web', vms)!, /starting with a letter or digit/);
  assert.match(vmNameProblem('a b', vms)!, /letters, digits/);
  assert.match(vmNameProblem('x'.repeat(65), vms)!, /up to 64/);
  assert.equal(vmNameProblem('web-2.test_1', vms), undefined);
  assert.equal(freeName('web', ['web', 'web-2']), 'web-3');
  assert.equal(freeName('db', ['web']), 'db');
  assert.equal(wholeNumberProblem('Memory', '8', 16, 3072, ' MiB'), 'Memory: a whole number from 16 to 3072 MiB.');
  assert.equal(wholeNumberProblem('vCPUs', '1.5', 1, 8), 'vCPUs: a whole number from 1 to 8.');
  assert.equal(wholeNumberProblem('vCPUs', '', 1, 8), 'vCPUs: a whole number from 1 to 8.');
  assert.equal(wholeNumberProblem('vCPUs', '8', 1, 8), undefined);
});
