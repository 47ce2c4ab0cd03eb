// Where preferences are kept: one JSON file (preferencesPath), written by the desktop app through
// electron-store and by `hangar serve` through FilePreferences, read by every `hangar`. Both
// merge what is stored over the defaults field by field.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.ts';
import { hangarHome } from '../common/hangar-home.ts';
import { preferencesSchema, type Preferences } from './preferences.ts';

export function defaultPreferences(env: NodeJS.ProcessEnv = process.env): Preferences {
  return {
    libraryFolder: hangarHome(env),
    theme: 'system',
    defaultVm: { cpus: 1, memoryMiB: 512, diskGiB: 8 },
    consoleFontSize: 14,
  };
}

/** The library in use: HANGAR_HOME when set (scripts, tests), else the preference. */
export function libraryFolder(preferences: Preferences, env: NodeJS.ProcessEnv = process.env): string {
  return env.HANGAR_HOME ?? preferences.libraryFolder;
}

/** The preferences file of the app and of every `hangar`. */
export function preferencesPath(env: NodeJS.ProcessEnv = process.env): string {
  return `${env.XDG_CONFIG_HOME ?? `${env.HOME ?? '/root'}/.config`}/hangar/preferences.json`;
}

/** Where preferences are kept; the API service reads and writes through this. */
export interface PreferencesStore {
  read(): Preferences;
  write(preferences: Preferences): Promise<void>;
}

/**
 * Stored preferences merged over the defaults, field by field: a field that is missing or
 * no longer valid (hand-edited, from an older version) falls back to its default.
 */
export function mergeStored(stored: unknown, defaults: Preferences): Preferences {
  const out: Record<string, unknown> = { ...defaults };
  if (typeof stored === 'object' && stored !== null) {
    for (const [key, field] of Object.entries(preferencesSchema.shape)) {
      try {
        const value = field.check((stored as Record<string, unknown>)[key], key);
        if (value !== undefined) out[key] = value;
      } catch {
        // keep the default
      }
    }
  }
  return out as Preferences;
}

/** Preferences in one JSON file, written atomically (for `hangar serve`). */
export class FilePreferences implements PreferencesStore {
  constructor(readonly path: string, private readonly defaults: Preferences = defaultPreferences()) {}

  read(): Preferences {
    let stored: unknown;
    try {
      stored = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      stored = undefined;
    }
    return mergeStored(stored, this.defaults);
  }

  async write(preferences: Preferences): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeFileAtomic(this.path, JSON.stringify(preferences, null, 2));
  }
}
