// Runs the real `hangar` command as a child process, as a user or a script would.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GuestConsole } from './guest-console.ts';

export const HANGAR = fileURLToPath(new URL('../../engine/cli/hangar.mjs', import.meta.url));

/** Runs hangar to completion and returns its status and output. */
export function hangarSync(args: string[], options: { input?: string; timeoutMs?: number } = {}) {
  const result = spawnSync(process.execPath, [HANGAR, ...args], {
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts `hangar run ARGS` with its console on pipes, driven through a GuestConsole. */
export function startHangarRun(args: string[]): { child: ChildProcessWithoutNullStreams; console: GuestConsole; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [HANGAR, 'run', ...args], { stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const console = new GuestConsole({
    onData: (listener) => child.stdout.on('data', listener),
    write: (text) => child.stdin.write(text),
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    if (code !== 0 && stderr) process.stderr.write(stderr);
    resolve(code);
  }));
  return { child, console, exited };
}
