// The rules a name or a number given to Hangar must keep, written once: the API's schemas
// (engine/api/channels.ts), the engine's own checks (vm.json, the VM library, the container
// runtime, and through them the CLI) and the UI's wizards all derive from this file. Pure (no
// imports), so the renderer bundles it too.

export interface NameRule {
  readonly max: number;
  /** The whole rule, length included. */
  readonly pattern: RegExp;
  /** What the pattern asks for, in words ("1 to 64 letters, ..."). */
  readonly rule: string;
}

export interface Range {
  readonly min: number;
  /** Infinity: no upper bound. */
  readonly max: number;
  readonly whole: boolean;
  /** What the range asks for, in words ("a whole number from 1 to 8"). */
  readonly rule: string;
}

const MiB = 1024 * 1024;

function range(min: number, max: number, whole: boolean, show: (n: number) => string = String): Range {
  const kind = whole ? 'a whole number' : 'a number';
  return { min, max, whole, rule: max === Infinity ? `${kind} of at least ${show(min)}` : `${kind} from ${show(min)} to ${show(max)}` };
}
const mebibytes = (n: number) => `${n} MiB`;

/** A VM's name: it names the VM in `hangar vm` commands, so it is a plain word. */
export const VM_NAME: NameRule = {
  max: 64,
  pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
  rule: "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
};

/** A container's name, as Docker's: a plain word. */
export const CONTAINER_NAME: NameRule = {
  max: 128,
  pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
  rule: "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
};

/**
 * A VM snapshot's name may read like a sentence ("before upgrade"); no control characters, no
 * space at either end, no leading '-' (it would read as an option on the command line).
 */
export const SNAPSHOT_NAME: NameRule = {
  max: 80,
  pattern: /^[^\s\x00-\x1f\x7f-](?:[^\x00-\x1f\x7f]{0,78}[^\s\x00-\x1f\x7f])?$/,
  rule: "1 to 80 characters without control characters, not starting with '-' or a space nor ending with a space",
};

/** A VM's kernel command line, in characters. */
export const KERNEL_APPEND_MAX = 4096;
/** A VM snapshot's description, in characters. */
export const SNAPSHOT_DESCRIPTION_MAX = 4096;

/**
 * A VM's vCPUs and memory (MiB). The maxima are what the machine's memory layout is built for
 * (engine/cpu/layout.ts: MAX_HARTS hart blocks, MAX_RAM_MIB of guest RAM in a 4 GiB wasm32
 * memory); test/unit/renderer/limits.test.ts holds them equal.
 */
export const VM_CPUS = range(1, 8, true);
export const VM_MEMORY_MIB = range(16, 3072, true, mebibytes);
/** What the app offers for a new VM's empty disk, in GiB (qcow2 grows as the guest writes). */
export const VM_DISK_GIB = range(1, 4096, true, (n) => `${n} GiB`);

/** A container's memory limit in bytes: runc refuses less than 6 MiB. */
export const CONTAINER_MEMORY_BYTES = range(6 * MiB, Infinity, true, (n) => mebibytes(n / MiB));
/** A container's CPU share: cgroup v2 cpu.max takes a quota down to 1 ms per 100 ms period. The host's own count also bounds it where the container runs. */
export const CONTAINER_CPUS = range(0.01, 1024, false);
export const CONTAINER_PIDS = range(1, Infinity, true);

/** Why a name breaks its rule ("must be ..."), or undefined. */
export function nameProblem(rule: NameRule, name: string): string | undefined {
  return rule.pattern.test(name) ? undefined : `must be ${rule.rule}`;
}

/** Why a number is outside its range ("must be ..."), or undefined; NaN is outside every range. */
export function rangeProblem(range: Range, value: number): string | undefined {
  const inside = Number.isFinite(value) && (!range.whole || Number.isSafeInteger(value)) && value >= range.min && value <= range.max;
  return inside ? undefined : `must be ${range.rule}`;
}
