// A VM's snapshot tree as the wizards list it: depth-first, each with its depth (for indenting),
// and the names a new snapshot may not take.
import type { SnapshotNode, SnapshotTree } from '../../../engine/vm/snapshots.ts';

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

/** Why a new snapshot cannot have this name, or undefined. */
export function snapshotNameProblem(name: string, tree: SnapshotTree | undefined): string | undefined {
  const trimmed = name.trim();
  if (!trimmed) return 'Name: give the snapshot a name.';
  if (trimmed.length > 128) return 'Name: at most 128 characters.';
  if (listSnapshots(tree).some((s) => s.node.name === trimmed)) return `Name: a snapshot named "${trimmed}" already exists.`;
  return undefined;
}

/** "Snapshot N", the first such name not taken. */
export function nextSnapshotName(tree: SnapshotTree | undefined, base = 'Snapshot'): string {
  const taken = new Set(listSnapshots(tree).map((s) => s.node.name));
  let n = taken.size + 1;
  while (taken.has(`${base} ${n}`)) n++;
  return `${base} ${n}`;
}
