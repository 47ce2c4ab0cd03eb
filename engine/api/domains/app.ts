// app:, preferences: and operations: — what the engine is, the app's preferences, and the
// cancelling of long calls.
import { toApiError } from '../errors.ts';
import type { HandlersOf, ServiceCore } from '../service.ts';

export function appHandlers(core: ServiceCore): HandlersOf<'app'> & HandlersOf<'preferences'> & HandlersOf<'operations'> {
  return {
    'app:info': async () => {
      const containers = await core.containers().then(() => ({ available: true }), (err) => ({ available: false, reason: toApiError(err).message }));
      return {
        version: core.options.version,
        platform: process.platform,
        features: {
          containers,
          vms: { available: true },
        },
      };
    },

    'preferences:get': async () => core.options.preferences.read(),
    'preferences:set': async (change) => {
      const preferences = { ...core.options.preferences.read(), ...change };
      await core.options.preferences.write(preferences);
      core.broadcast({ type: 'preferences:changed', preferences });
      return preferences;
    },

    'operations:cancel': async ({ id }) => ({ cancelled: core.cancel(id) }),
  };
}
