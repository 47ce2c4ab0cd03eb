// Presets (assets/presets/*.json): the starting points of a new VM. `boot` says where its boot
// files come from: "debian-guest" (Hangar's Debian guest, fetched and verified by engine/guests)
// or "files" (the caller's own kernel, initrd and firmware). `append: null` takes the guest's own
// kernel command line.
import { readdir, readFile } from 'node:fs/promises';
import { MAX_CPUS, MAX_MEMORY_MIB, MIN_MEMORY_MIB } from './config.ts';
import { VmError, VmNotFoundError } from './errors.ts';
import type { Preset } from './types.ts';
export type { Preset } from './types.ts';

const PRESETS = new URL('../../assets/presets/', import.meta.url);

function checkPreset(value: unknown, file: string): Preset {
  const p = value as Partial<Preset>;
  const bad = (what: string) => new VmError(`assets/presets/${file}: ${what}`);
  if (typeof p !== 'object' || p === null) throw bad('must be an object');
  if (typeof p.id !== 'string' || `${p.id}.json` !== file) throw bad('id must match the file name');
  if (typeof p.name !== 'string' || typeof p.description !== 'string') throw bad('name and description must be text');
  if (p.boot !== 'debian-guest' && p.boot !== 'files') throw bad('boot must be "debian-guest" or "files"');
  if (!Number.isInteger(p.cpus) || p.cpus! < 1 || p.cpus! > MAX_CPUS) throw bad(`cpus must be a whole number from 1 to ${MAX_CPUS}`);
  if (!Number.isInteger(p.memory) || p.memory! < MIN_MEMORY_MIB || p.memory! > MAX_MEMORY_MIB) throw bad('memory is out of range');
  if (!Number.isInteger(p.diskGiB) || p.diskGiB! < 1) throw bad('diskGiB must be a whole number of GiB');
  if (p.append !== null && typeof p.append !== 'string') throw bad('append must be text or null');
  return p as Preset;
}

export async function listPresets(): Promise<Preset[]> {
  const files = (await readdir(PRESETS)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (file) => checkPreset(JSON.parse(await readFile(new URL(file, PRESETS), 'utf8')), file)));
}

export async function loadPreset(id: string): Promise<Preset> {
  const preset = (await listPresets()).find((p) => p.id === id);
  if (!preset) throw new VmNotFoundError(`no preset "${id}" (presets: ${(await listPresets()).map((p) => p.id).join(', ')})`);
  return preset;
}
