// A VM's snapshot tree as the wizards list it: depth-first, each with its depth (for indenting),
// and the names a new snapshot may not take.
import { SNAPSHOT_NAME } from '../../../engine/api/channels.ts';
import type { SnapshotNode, SnapshotTree } from '../../../engine/vm/types.ts';
import { newNameProblem } from './validation.ts';

export interface ListedSnapshot {
  node: SnapshotNode;
  depth: number;
}

export function listSnapshots(tree: SnapshotTree | undefined): ListedSnapshot[] {
  const out: ListedSnapshot[] = [];
  const walk = (nodes: SnapshotNode[], depth: number) => {
    for (const node of nodes) {
      out.push({ node, depth });
      walk(node.children, depth + 1);
    }
  };
  walk(tree?.roots ?? [], 0);
  return out;
}

/** Why a new snapshot cannot have this name (the wizards send it trimmed), or undefined. */
export function snapshotNameProblem(name: string, tree: SnapshotTree | undefined): string | undefined {
  return newNameProblem(SNAPSHOT_NAME, 'snapshot', name.trim(), listSnapshots(tree).map((s) => s.node.name));
}

/** "Snapshot N", the first such name not taken. */
export function nextSnapshotName(tree: SnapshotTree | undefined, base = 'Snapshot'): string {
  const taken = new Set(listSnapshots(tree).map((s) => s.node.name));
  let n = taken.size + 1;
  while (taken.has(`${base} ${n}`)) n++;
  return `${base} ${n}`;
}
