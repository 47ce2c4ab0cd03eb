// The real `hangar` as a script drives running VMs: a scratch HANGAR_HOME (so a daemon started by
// `vm start --detach` owns only it), asynchronous runs (a test's own WebSocket client goes on
// receiving events meanwhile), and the guest's own view through `vm exec`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HANGAR } from '../../support/hangar-process.ts';
import { isProcessAlive } from '../../../engine/common/process.ts';

/** A fresh library for this test file, its daemon killed and its folder removed at exit. */
export function scratchHome(prefix: string): string {
  const home = mkdtempSync(join(tmpdir(), prefix));
  process.env.HANGAR_HOME = home; // inherited by every hangar the tests start
  process.on('exit', () => {
    killDaemon(home);
    rmSync(home, { recursive: true, force: true });
  });
  return home;
}

/** The pid of the engine that owns the library, from its endpoint file; null when there is none. */
export function daemonPid(home: string): number | null {
  try {
    const pid = (JSON.parse(readFileSync(join(home, 'engine.json'), 'utf8')) as { pid: number }).pid;
    return isProcessAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** SIGKILL to the owner: no saving, no cleanup — a crash. */
export function killDaemon(home: string): number | null {
  const pid = daemonPid(home);
  if (pid !== null) process.kill(pid, 'SIGKILL');
  return pid;
}

export async function waitUntilGone(pid: number): Promise<void> {
  while (isProcessAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
}

export interface Run { status: number | null; stdout: string; stderr: string }

/**
 * Runs hangar to completion without blocking this process. `onStderr` sees stderr as it comes
 * (progress lines), e.g. to act at a given moment of a long operation.
 */
export function hangarAsync(args: string[], options: { timeoutMs?: number; onStderr?: (text: string) => void } = {}): Promise<Run> {
  const child = spawn(process.execPath, [HANGAR, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    options.onStderr?.(stderr);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
  return new Promise((resolve) => child.on('close', (status) => {
    clearTimeout(timer);
    resolve({ status, stdout, stderr });
  }));
}

/** hangar ARGS, which must succeed; its stdout. */
export async function hangar(...args: string[]): Promise<string> {
  const run = await hangarAsync(args);
  assert.equal(run.status, 0, `hangar ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

export async function hangarJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await hangar(...args, '--json')) as T;
}

/** A command in the guest through `vm exec`: its stdout (status 0 required). */
export async function guest(vm: string, script: string): Promise<string> {
  return hangar('vm', 'exec', vm, '--', 'sh', '-c', script);
}

export async function stateOf(vm: string): Promise<string> {
  return (await hangarJson<{ state: string }>('vm', 'info', vm)).state;
}
