// The app's preferences: what they are and how a change is checked. Pure (no Node modules):
// the preload and the renderer bundle this file. Defaults and storage: preferences-store.ts.
// VM definitions never live here: they live in their folders in the library.
import { VM_CPUS, VM_DISK_GIB, VM_MEMORY_MIB } from '../common/limits.ts';
import { integer, object, oneOf, optional, string, type Infer } from './schema.ts';

export const preferencesSchema = object({
  /** The folder holding VMs and containers (HANGAR_HOME); takes effect at the next start. */
  libraryFolder: string({ min: 1, max: 1024, pattern: /^\//, patternHint: 'an absolute path' }),
  theme: oneOf(['system', 'light', 'dark'] as const),
  /** What the New VM wizard proposes. */
  defaultVm: object({
    cpus: integer({ min: VM_CPUS.min, max: VM_CPUS.max }),
    memoryMiB: integer({ min: VM_MEMORY_MIB.min, max: VM_MEMORY_MIB.max }),
    diskGiB: integer({ min: VM_DISK_GIB.min, max: VM_DISK_GIB.max }),
  }),
  consoleFontSize: integer({ min: 8, max: 32 }),
});

export type Preferences = Infer<typeof preferencesSchema>;

/** A change: any top-level field, each whole and valid. */
export const preferencesChangeSchema = object({
  libraryFolder: optional(preferencesSchema.shape.libraryFolder),
  theme: optional(preferencesSchema.shape.theme),
  defaultVm: optional(preferencesSchema.shape.defaultVm),
  consoleFontSize: optional(preferencesSchema.shape.consoleFontSize),
});

export type PreferencesChange = Infer<typeof preferencesChangeSchema>;
