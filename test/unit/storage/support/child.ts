// Runs a piece of TypeScript in a child Node process with a time limit: work that could block the
// thread for good (an endless loop, an open() that waits) shows up as a kill, not a hung test.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The engine's storage layer, as a module specifier for the child's imports. */
export const STORAGE = JSON.stringify(fileURLToPath(new URL('../../../../engine/storage/index.ts', import.meta.url)));

export interface ChildResult { stdout: string; stderr: string; killed: boolean; ms: number }

export function runChild(source: string, timeoutMs: number): ChildResult {
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { encoding: 'utf8', timeout: timeoutMs });
  return { stdout: child.stdout, stderr: child.stderr, killed: child.signal !== null, ms: Date.now() - started };
}
