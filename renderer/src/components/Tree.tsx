// A tree of snapshots (or anything): nested lists with the tree roles, the current node marked.
// The buttons inside the nodes are the ways in by keyboard (Tab).
import type { ReactNode } from 'react';

export interface TreeNode {
  key: string;
  content: ReactNode;
  /** The node that stands for the current state. */
  current?: boolean;
  className?: string;
  children?: TreeNode[];
}

function Branch({ nodes, level }: { nodes: TreeNode[]; level: number }) {
  return nodes.map((node) => (
    <li
      key={node.key}
      role="treeitem"
      aria-level={level}
      aria-selected={node.current ?? false}
      aria-current={node.current || undefined}
      aria-expanded={node.children?.length ? true : undefined}
      className="tree-item"
    >
      <span className={`node ${node.className ?? ''}`}>{node.content}</span>
      {node.children?.length ? <ul role="group"><Branch nodes={node.children} level={level + 1} /></ul> : null}
    </li>
  ));
}

export function Tree({ label, roots }: { label: string; roots: TreeNode[] }) {
  return (
    <ul role="tree" aria-label={label} className="tree">
      <Branch nodes={roots} level={1} />
    </ul>
  );
}
