// The host tools the runtime drives: runc (with Hangar's own state root, so `runc list` of
// other users is untouched), mount/umount for overlay root filesystems. Failures become
// ToolErrors that keep the tool's own message.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { NotLinuxError, ToolError } from './errors.ts';

export interface ToolResult { stdout: string; stderr: string }

/** The Debian package of each tool the runtime runs. */
const PACKAGE: Record<string, string> = { runc: 'runc', mount: 'mount', umount: 'mount', tar: 'tar', cp: 'coreutils' };

/**
 * Runs a tool to completion. A failure becomes a ToolError named by `label` (default: the
 * command) carrying the tool's last line of stderr.
 */
export function runTool(command: string, args: string[], options: { label?: string; timeoutMs?: number } = {}): Promise<ToolResult> {
  const label = options.label ?? command;
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ stdout, stderr });
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new ToolError(`${command} is not installed (Debian: apt-get install ${PACKAGE[command] ?? command})`));
      }
      const message = stderr.trim().split('\n').map(cleanRuncLine).filter(Boolean).pop() ?? err.message;
      reject(new ToolError(`${label}: ${message}`));
    });
  });
}

/** runc logs as logrus lines (time="…" level=error msg="…"): keep the message. */
function cleanRuncLine(line: string): string {
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
  return (msg ? msg[1]!.replace(/\\"/g, '"') : line).trim();
}

/** Containers need Linux (and runc on it). */
export function assertLinuxHost(): void {
  if (process.platform !== 'linux') throw new NotLinuxError(process.platform);
}

export class Runc {
  constructor(private readonly stateRoot: string) {}

  /** The arguments that start every runc command: Hangar's own state directory. */
  get baseArgs(): string[] {
    return ['--root', this.stateRoot];
  }

  run(args: string[]): Promise<ToolResult> {
    return runTool('runc', [...this.baseArgs, ...args], { label: `runc ${args[0]}` });
  }

  /** runc's view of a container, or undefined when runc does not know it. */
  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    try {
      const { stdout } = await this.run(['state', id]);
      return JSON.parse(stdout) as { status: string; pid: number };
    } catch (err) {
      if (err instanceof ToolError && /does not exist/.test(err.message)) return undefined;
      throw err;
    }
  }
}

export async function isMountPoint(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  const escaped = path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return mounts.split('\n').some((line) => line.split(' ')[4] === escaped);
}

export async function mountOverlay(lower: string, upper: string, work: string, target: string): Promise<void> {
  if (await isMountPoint(target)) return;
  for (const dir of [lower, upper, work]) {
    if (/[,:]/.test(dir)) throw new ToolError(`overlay: the path ${dir} contains "," or ":", which mount options cannot carry`);
  }
  await runTool('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, target]);
}

export async function unmount(target: string): Promise<void> {
  if (await isMountPoint(target)) await runTool('umount', [target]);
}
