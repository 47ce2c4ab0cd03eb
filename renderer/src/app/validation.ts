// Checks the VM wizards make before the engine is asked (the engine checks again).
import type { VmListEntry } from '../../../engine/api/channels.ts';

const VM_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/** Why a new VM cannot have this name, or undefined. */
export function vmNameProblem(name: string, vms: VmListEntry[]): string | undefined {
  if (!name) return 'Name: give the VM a name.';
  if (!VM_NAME.test(name)) return 'Name: letters, digits, _ . - (starting with a letter or digit, up to 64).';
  if (vms.some((v) => v.name === name)) return `Name: a VM named "${name}" already exists.`;
  return undefined;
}

/** Why a number typed into a field is not a whole number in [min, max], or undefined. */
export function wholeNumberProblem(label: string, value: string, min: number, max: number, unit = ''): string | undefined {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) return `${label}: a whole number from ${min} to ${max}${unit}.`;
  return undefined;
}

/** A unique name made from a base: "web-clone", "web-clone-2", ... */
export function freeName(base: string, taken: Iterable<string>): string {
  const names = new Set(taken);
  if (!names.has(base)) return base;
  let n = 2;
  while (names.has(`${base}-${n}`)) n++;
  return `${base}-${n}`;
}
