// Test helper: decodes a DTB with the reference compiler (dtc, Debian's device-tree-compiler)
// and reads its dts text back as node paths and property texts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DecodedTree {
  dts: string;
  /** Node path ("/", "/soc/serial@10000000") → property name → value text as dtc prints it. */
  nodes: Map<string, Map<string, string>>;
}

export function decodeDtb(blob: Uint8Array): DecodedTree {
  // Through a file: dtc stops reading at the header's totalsize (QEMU's dumps are padded).
  const dir = mkdtempSync(join(tmpdir(), 'hangar-dtb-'));
  const file = join(dir, 'tree.dtb');
  writeFileSync(file, blob);
  const dts = execFileSync('dtc', ['-I', 'dtb', '-O', 'dts', '-q', file], { encoding: 'utf8' });
  rmSync(dir, { recursive: true });
  const nodes = new Map<string, Map<string, string>>();
  const path: string[] = [];
  const key = () => (path.length <= 1 ? '/' : path.slice(1).map((n) => `/${n}`).join(''));
  for (const raw of dts.split('\n')) {
    const line = raw.trim();
    const open = /^(\S+) \{$/.exec(line);
    if (open) {
      path.push(open[1]!);
      nodes.set(key(), new Map());
    } else if (line === '};') {
      path.pop();
    } else if (path.length > 0 && line.endsWith(';')) {
      const prop = /^([^=\s]+)(?: = (.*))?;$/.exec(line)!;
      nodes.get(key())!.set(prop[1]!, prop[2] ?? '');
    }
  }
  return { dts, nodes };
}
