// Preferences in electron-store, merged over the defaults. Its file is the one `hangar` (the CLI,
// `hangar serve`, the daemon) reads, so a library folder chosen in the app is the CLI's too.
import { dirname } from 'node:path';
import Store from 'electron-store';
import { mergeStored, preferencesPath, type PreferencesStore } from '../engine/api/preferences-store.ts';
import type { Preferences } from '../engine/api/preferences.ts';

export class ElectronPreferences implements PreferencesStore {
  private readonly store = new Store<Record<string, unknown>>({ name: 'preferences', cwd: dirname(preferencesPath()) });

  constructor(private readonly defaults: Preferences) {}

  read(): Preferences {
    return mergeStored(this.store.store, this.defaults);
  }

  async write(preferences: Preferences): Promise<void> {
    this.store.set(preferences);
  }
}
