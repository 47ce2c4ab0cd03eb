// Preferences in electron-store (in the app's user-data folder), merged over the defaults.
import Store from 'electron-store';
import { mergeStored, type PreferencesStore } from '../engine/api/preferences-store.ts';
import type { Preferences } from '../engine/api/preferences.ts';

export class ElectronPreferences implements PreferencesStore {
  private readonly store = new Store<Record<string, unknown>>({ name: 'preferences' });

  constructor(private readonly defaults: Preferences) {}

  read(): Preferences {
    return mergeStored(this.store.store, this.defaults);
  }

  async write(preferences: Preferences): Promise<void> {
    this.store.set(preferences);
  }
}
