// QEMU's own tools as the judge of Hangar's images (Debian's qemu-utils).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `qemu-img check` as JSON; it exits 2 for corruptions and 3 for leaks, so the status is not an error here. */
export function qemuCheck(path: string): { corruptions: number; leaks: number; errors: number } {
  const result = spawnSync('qemu-img', ['check', '--output=json', path], { encoding: 'utf8' });
  const report = JSON.parse(result.stdout) as Record<string, number>;
  return { corruptions: report.corruptions ?? 0, leaks: report.leaks ?? 0, errors: report['check-errors'] ?? 0 };
}

export const CLEAN = { corruptions: 0, leaks: 0, errors: 0 };

/** The virtual disk as QEMU reads it (through its backing chain), converted to `out` and read back. */
export function qemuRaw(path: string, out: string): Buffer {
  qemuImg('convert', '-O', 'raw', path, out);
  try {
    return readFileSync(out);
  } finally {
    rmSync(out);
  }
}
