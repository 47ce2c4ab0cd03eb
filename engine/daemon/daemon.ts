// The headless engine (`hangar daemon`): owns the library, serves the API on loopback, runs VMs
// for its clients, until SIGTERM, SIGINT or SIGHUP. VMs cannot outlive the process that runs
// them, so on the way out every running VM is saved (suspended to disk) first: its next start
// resumes it where it was, which is what a user who only stopped the daemon expects.
import { createApiService, type ApiService } from '../api/index.ts';
import { FilePreferences, libraryFolder, preferencesPath } from '../api/preferences-store.ts';
import { becomeOwner, type Ownership } from './owner.ts';

/** The library the CLI and the daemon work on: HANGAR_HOME when set, else the app's preference. */
export function engineHome(): string {
  return libraryFolder(new FilePreferences(preferencesPath()).read());
}

export function createEngine(home: string): ApiService {
  return createApiService({ home, preferences: new FilePreferences(preferencesPath()) });
}

/** Saves the owner's running VMs, then stops serving and lets go of the library. */
export async function shutDown(service: ApiService, ownership: Ownership): Promise<void> {
  await service.vms.saveAll();
  await ownership.close();
  service.close();
}

export async function runDaemon(log: (line: string) => void): Promise<void> {
  const home = engineHome();
  const service = createEngine(home);
  const ownership = await becomeOwner(home, service);
  log(`hangar daemon: process ${process.pid} owns ${home}, API on 127.0.0.1:${ownership.endpoint.port}`);
  const signal = await new Promise<string>((done) => {
    for (const name of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(name, () => done(name));
  });
  const running = service.vms.running.map((r) => r.name);
  log(`hangar daemon: ${signal}${running.length ? `, saving ${running.join(', ')}` : ''}`);
  await shutDown(service, ownership);
  log('hangar daemon: stopped');
}
