// test/layers.mjs, the import-layering check `npm test` runs: on a small tree of its own (an
// ARCHITECTURE.md layer list and a few modules) it names each import that goes up, leaves the
// layers, the main/renderer door, Electron in the engine and Node in the renderer; on the real
// tree it finds nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHECK = fileURLToPath(new URL('../../layers.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

const ARCHITECTURE = `# a tree

## Layers

\`\`\`
main           the app → engine/api
renderer       the UI → engine/api
engine/api     the API
engine/vm      VMs
engine/machine the board, and a description that goes on
               on a second line
engine/common  shared pieces
\`\`\`

## Next
`;

function check(root: string): { status: number | null; problems: string[]; stdout: string } {
  const run = spawnSync(process.execPath, [CHECK, root], { encoding: 'utf8' });
  return { status: run.status, problems: run.stderr.split('\n').filter((l) => l && !l.startsWith('layers:')), stdout: run.stdout };
}

function tree(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'hangar-layers-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries({ 'ARCHITECTURE.md': ARCHITECTURE, ...files })) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const good = {
  'engine/common/errors.ts': 'export class E extends Error {}\n',
  'engine/machine/board.ts': "import { E } from '../common/errors.ts';\nexport const board = new E();\n",
  'engine/vm/library.ts': "import {\n  board,\n} from '../machine/board.ts';\nimport type { E } from '../common/errors.ts';\nexport const vm = board;\n",
  'engine/api/channels.ts': "export { vm } from '../vm/library.ts';\nexport const load = () => import('../vm/library.ts');\n",
  'renderer/src/app.tsx': "import { vm } from '../../engine/api/channels.ts';\nimport type { E } from '../../engine/common/errors.ts';\nimport { type E as F } from '../../engine/machine/board.ts';\nexport default vm;\n",
  'main/app.ts': "import { vm } from '../engine/api/channels.ts';\nimport { app } from 'electron';\n// import { board } from '../engine/machine/board.ts' (a comment)\n",
};

test('a tree whose imports go down the list passes', (t) => {
  const result = check(tree(t, good));
  assert.deepEqual(result.problems, []);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /goes down the 6 layers of ARCHITECTURE\.md/);
});

test('an upward import fails with its file:line and both layers; so do the door, Electron, Node and strays', (t) => {
  const result = check(tree(t, {
    ...good,
    'engine/common/errors.ts': "// the shared errors\nimport { board } from '../machine/board.ts';\nexport class E extends Error {}\n",
    'engine/machine/board.ts': "import { E } from '../common/errors.ts';\nexport const board = new E();\nconst later = await import('../vm/library.ts');\n",
    'renderer/src/app.tsx': "import { vm } from '../../engine/vm/library.ts';\nimport { readFileSync } from 'node:fs';\n",
    'engine/vm/window.ts': "import { BrowserWindow } from 'electron';\n",
    'engine/net/stack.ts': 'export {};\n',
  }));
  assert.equal(result.status, 1);
  assert.deepEqual(result.problems.sort(), [
    'engine/common/errors.ts:2: engine/common imports engine/machine (../machine/board.ts), a layer above it',
    'engine/machine/board.ts:3: engine/machine imports engine/vm (../vm/library.ts), a layer above it',
    'engine/net/stack.ts:1: is in no layer of ARCHITECTURE.md\'s list',
    'engine/vm/window.ts:1: engine/vm imports Electron (electron)',
    'renderer/src/app.tsx:1: renderer reaches the engine only through engine/api, not engine/vm (../../engine/vm/library.ts)',
    'renderer/src/app.tsx:2: renderer imports node:fs: the sandboxed UI has no Node',
  ]);
});

test('the real tree keeps to the layers of its ARCHITECTURE.md', () => {
  const result = check(REPO);
  assert.deepEqual(result.problems, []);
  assert.equal(result.status, 0);
});
