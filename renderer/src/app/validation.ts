// Checks the wizards make before the engine is asked: the engine's own rules
// (engine/common/limits.ts) with the field named as the wizard labels it, and what only the list
// on screen knows (a name already taken). The engine checks again.
import type { ContainerInfo, VmListEntry } from '../../../engine/api/channels.ts';
import { CONTAINER_NAME, nameProblem, rangeProblem, VM_NAME, type NameRule, type Range } from '../../../engine/api/channels.ts';

export const MiB = 1024 * 1024;

/**
 * Why a new name cannot be used, or undefined. `kind` names the thing ("VM", "snapshot");
 * `taken` holds the names of its siblings.
 */
export function newNameProblem(rule: NameRule, kind: string, name: string, taken: Iterable<string>): string | undefined {
  if (!name) return `Name: give the ${kind} a name.`;
  const problem = nameProblem(rule, name);
  if (problem) return `Name: ${problem}.`;
  for (const other of taken) if (other === name) return `Name: a ${kind} named "${name}" already exists.`;
  return undefined;
}

export const vmNameProblem = (name: string, vms: VmListEntry[]) => newNameProblem(VM_NAME, 'VM', name, vms.map((v) => v.name));
export const containerNameProblem = (name: string, containers: ContainerInfo[]) => newNameProblem(CONTAINER_NAME, 'container', name, containers.map((c) => c.name));

/**
 * Why the text typed into a number field is not in the range, or undefined. `toValue` turns
 * the typed number into the unit of the range (MiB into bytes, say), as the wizard sends it.
 */
export function numberProblem(label: string, range: Range, typed: string, toValue: (typed: number) => number = (n) => n): string | undefined {
  const problem = rangeProblem(range, typed.trim() === '' ? NaN : toValue(Number(typed)));
  return problem && `${label}: ${problem}.`;
}

/** Mebibytes typed into a field, as whole bytes. */
export const mebibytesToBytes = (mib: number) => Math.round(mib * MiB);

/** A unique name made from a base: "web-clone", "web-clone-2", ... */
export function freeName(base: string, taken: Iterable<string>): string {
  const names = new Set(taken);
  if (!names.has(base)) return base;
  let n = 2;
  while (names.has(`${base}-${n}`)) n++;
  return `${base}-${n}`;
}
