// Preferences: library folder, theme, what a new VM gets, the console's font size.
import { useState } from 'react';
import type { Preferences } from '../../../engine/api/channels.ts';
import { VM_CPUS, VM_DISK_GIB, VM_MEMORY_MIB } from '../../../engine/api/channels.ts';
import { useClient } from '../components/context.ts';
import { Wizard } from '../components/Wizard.tsx';

export function PreferencesDialog({ preferences, onClose }: { preferences: Preferences; onClose: () => void }) {
  const client = useClient();
  const [draft, setDraft] = useState(preferences);
  const vm = (field: keyof Preferences['defaultVm'], value: string) => setDraft({ ...draft, defaultVm: { ...draft.defaultVm, [field]: Number(value) } });
  return (
    <Wizard
      title="Preferences"
      steps={[{
        id: 'all',
        title: 'Preferences',
        content: (
          <div className="fields grid">
            <label className="field wide">
              <span>Library folder (used from the next start)</span>
              <input value={draft.libraryFolder} onChange={(e) => setDraft({ ...draft, libraryFolder: e.target.value })} spellCheck={false} />
            </label>
            <label className="field">
              <span>Theme</span>
              <select value={draft.theme} onChange={(e) => setDraft({ ...draft, theme: e.target.value as Preferences['theme'] })}>
                <option value="system">Follow the system</option>
                <option value="light">Light</option>
                <option value="dark">Dark</option>
              </select>
            </label>
            <label className="field">
              <span>Console font size</span>
              <input type="number" min={8} max={32} value={draft.consoleFontSize} onChange={(e) => setDraft({ ...draft, consoleFontSize: Number(e.target.value) })} />
            </label>
            <label className="field">
              <span>New VM: vCPUs</span>
              <input type="number" min={VM_CPUS.min} max={VM_CPUS.max} value={draft.defaultVm.cpus} onChange={(e) => vm('cpus', e.target.value)} />
            </label>
            <label className="field">
              <span>New VM: memory (MiB)</span>
              <input type="number" min={VM_MEMORY_MIB.min} max={VM_MEMORY_MIB.max} step={64} value={draft.defaultVm.memoryMiB} onChange={(e) => vm('memoryMiB', e.target.value)} />
            </label>
            <label className="field">
              <span>New VM: disk (GiB)</span>
              <input type="number" min={VM_DISK_GIB.min} max={VM_DISK_GIB.max} value={draft.defaultVm.diskGiB} onChange={(e) => vm('diskGiB', e.target.value)} />
            </label>
          </div>
        ),
      }]}
      finishLabel="Save"
      finish={{ label: 'Saving', work: async () => { await client.invoke('preferences:set', draft); } }}
      onClose={onClose}
    />
  );
}
