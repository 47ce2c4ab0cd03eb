// The engine behind the service API, as the desktop app and `hangar serve` start it: one
// library folder (HANGAR_HOME), its containers service, its VMs, and the app's preferences.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainersService } from '../containers/index.ts';
import type { PreferencesStore } from './preferences-store.ts';
import { ApiService } from './service.ts';
import { VmLibrary } from '../vm/library.ts';
import { machineParts } from '../vm/runner-machine.ts';
import { VmRunners } from '../vm/runners.ts';

export function engineVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** @param home the library folder (see libraryFolder in preferences-store.ts) */
export function createApiService(options: { home: string; preferences: PreferencesStore }): ApiService {
  return new ApiService({
    containers: new ContainersService(join(options.home, 'containers')),
    vms: new VmRunners(new VmLibrary(join(options.home, 'vms')), machineParts),
    preferences: options.preferences,
    version: engineVersion(),
  });
}

export { ApiService } from './service.ts';
export type { ApiSession, EventListener, SessionSource } from './service.ts';
