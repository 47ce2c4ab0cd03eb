// New VM: name and preset (Hangar's Debian guest, or your own kernel, initrd and disk), boot
// files for the custom preset, vCPUs, memory and disk size, summary; creating it fetches the
// guest and makes its disk (progress, cancellable), then it is started when asked.
import { useState } from 'react';
import type { Preferences, VmDetails, VmListEntry } from '../../../engine/api/channels.ts';
import type { Preset } from '../../../engine/vm/presets.ts';
import { MAX_CPUS, MAX_MEMORY_MIB, MIN_MEMORY_MIB } from '../../../engine/api/channels.ts';
import { freeName, vmNameProblem, wholeNumberProblem } from '../app/validation.ts';
import { Choices } from '../components/Choices.tsx';
import { useClient } from '../components/context.ts';
import { Wizard, type WizardStep } from '../components/Wizard.tsx';

interface Props {
  presets: Preset[];
  vms: VmListEntry[];
  defaults?: Preferences['defaultVm'];
  onClose: () => void;
  /** The new VM, and whether it should be started now. */
  onCreated: (vm: VmDetails, start: boolean) => void;
}

const MAX_DISK_GIB = 2048;
const absolute = (path: string) => path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path);

export function NewVmWizard({ presets, vms, defaults, onClose, onCreated }: Props) {
  const client = useClient();
  // Hangar's own guest first: it boots with nothing else to provide.
  const first = presets.find((p) => p.boot === 'debian-guest') ?? presets[0];
  const [name, setName] = useState(() => freeName(first?.id ?? 'vm', vms.map((v) => v.name)));
  const [presetId, setPresetId] = useState(first?.id ?? '');
  const preset = presets.find((p) => p.id === presetId);
  const [kernel, setKernel] = useState('');
  const [initrd, setInitrd] = useState('');
  const [firmware, setFirmware] = useState('');
  const [disk, setDisk] = useState('');
  const [append, setAppend] = useState(preset?.append ?? '');
  const [cpus, setCpus] = useState(String(defaults?.cpus ?? preset?.cpus ?? 1));
  const [memory, setMemory] = useState(String(defaults?.memoryMiB ?? preset?.memory ?? 512));
  const [diskGiB, setDiskGiB] = useState(String(defaults?.diskGiB ?? preset?.diskGiB ?? 8));
  const [start, setStart] = useState(true);
  const custom = preset?.boot === 'files';

  function choosePreset(p: Preset) {
    setPresetId(p.id);
    setAppend(p.append ?? '');
  }

  const steps: WizardStep[] = [
    {
      id: 'name',
      title: 'Name and preset',
      content: (
        <div className="fields">
          <label className="field">
            <span>Name</span>
            <input value={name} onChange={(e) => setName(e.target.value)} spellCheck={false} autoComplete="off" />
          </label>
          <Choices
            label="Preset"
            name="preset"
            choices={presets.map((p) => ({ value: p.id, label: <strong>{p.name}</strong>, detail: p.description }))}
            value={presetId}
            onChange={(id) => choosePreset(presets.find((p) => p.id === id)!)}
          />
        </div>
      ),
      validate: () => vmNameProblem(name, vms) ?? (preset ? undefined : 'Choose a preset.'),
    },
  ];
  if (custom) {
    steps.push({
      id: 'boot',
      title: 'Boot files',
      content: (
        <div className="fields">
          <p className="muted">Files on the host where the engine runs; they are copied into the VM's folder.</p>
          <label className="field">
            <span>Kernel (RISC-V Linux Image or ELF)</span>
            <input value={kernel} onChange={(e) => setKernel(e.target.value)} placeholder="/path/to/Image" spellCheck={false} />
          </label>
          <label className="field">
            <span>Initrd (optional)</span>
            <input value={initrd} onChange={(e) => setInitrd(e.target.value)} placeholder="/path/to/initrd.cpio.gz" spellCheck={false} />
          </label>
          <label className="field">
            <span>Firmware (optional: OpenSBI fw_dynamic)</span>
            <input value={firmware} onChange={(e) => setFirmware(e.target.value)} placeholder="Debian's OpenSBI from the guest cache" spellCheck={false} />
          </label>
          <label className="field">
            <span>Disk image to copy (optional: raw or qcow2)</span>
            <input value={disk} onChange={(e) => setDisk(e.target.value)} placeholder="a new empty disk" spellCheck={false} />
          </label>
          <label className="field">
            <span>Kernel command line</span>
            <input value={append} onChange={(e) => setAppend(e.target.value)} spellCheck={false} />
          </label>
        </div>
      ),
      validate: () => {
        if (!kernel.trim()) return 'Kernel: the custom preset boots your own kernel; give its path.';
        const bad = [['Kernel', kernel], ['Initrd', initrd], ['Firmware', firmware], ['Disk image', disk]].find(([, p]) => p!.trim() && !absolute(p!.trim()));
        return bad ? `${bad[0]}: an absolute path on the host.` : undefined;
      },
    });
  }
  steps.push(
    {
      id: 'resources',
      title: 'Resources',
      content: (
        <div className="fields grid">
          <label className="field">
            <span>vCPUs</span>
            <input type="number" min={1} max={MAX_CPUS} value={cpus} onChange={(e) => setCpus(e.target.value)} />
          </label>
          <label className="field">
            <span>Memory (MiB)</span>
            <input type="number" min={MIN_MEMORY_MIB} max={MAX_MEMORY_MIB} value={memory} onChange={(e) => setMemory(e.target.value)} />
          </label>
          <label className="field">
            <span>Disk size (GiB)</span>
            <input type="number" min={1} max={MAX_DISK_GIB} value={diskGiB} onChange={(e) => setDiskGiB(e.target.value)} disabled={Boolean(disk.trim())} />
            <small>{disk.trim() ? 'The copied image keeps its own size.' : 'Grows as the guest writes (qcow2).'}</small>
          </label>
          <label className="check wide">
            <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} />
            Start the VM when it is created
          </label>
        </div>
      ),
      validate: () =>
        wholeNumberProblem('vCPUs', cpus, 1, MAX_CPUS)
        ?? wholeNumberProblem('Memory', memory, MIN_MEMORY_MIB, MAX_MEMORY_MIB, ' MiB')
        ?? (disk.trim() ? undefined : wholeNumberProblem('Disk size', diskGiB, 1, MAX_DISK_GIB, ' GiB')),
    },
    {
      id: 'summary',
      title: 'Summary',
      content: (
        <div className="fields">
          <dl className="summary">
            <dt>Name</dt><dd>{name}</dd>
            <dt>Preset</dt><dd>{preset?.name}</dd>
            {custom && (
              <>
                <dt>Kernel</dt><dd className="mono">{kernel}</dd>
                <dt>Initrd</dt><dd className="mono">{initrd || '(none)'}</dd>
                <dt>Firmware</dt><dd className="mono">{firmware || "(Debian's OpenSBI)"}</dd>
                <dt>Command line</dt><dd className="mono">{append || '(none)'}</dd>
              </>
            )}
            <dt>vCPUs</dt><dd>{cpus}</dd>
            <dt>Memory</dt><dd>{memory} MiB</dd>
            <dt>Disk</dt><dd>{disk.trim() ? `a copy of ${disk.trim()}` : `${diskGiB} GiB, empty`}</dd>
            <dt>Then</dt><dd>{start ? 'start it' : 'leave it powered off'}</dd>
          </dl>
          {preset?.boot === 'debian-guest' && <p className="muted">The Debian guest is fetched and verified the first time (then kept in the download cache).</p>}
        </div>
      ),
    },
  );

  return (
    <Wizard
      title="New VM"
      steps={steps}
      finishLabel={start ? 'Create and start' : 'Create'}
      finish={{
        label: 'Creating the VM',
        work: async (operation) => {
          const optional = (value: string) => value.trim() || undefined;
          const created = await client.invoke('vms:create', {
            name,
            preset: presetId,
            kernel: custom ? optional(kernel) : undefined,
            initrd: custom ? optional(initrd) : undefined,
            firmware: custom ? optional(firmware) : undefined,
            disk: custom ? optional(disk) : undefined,
            append: custom ? append : undefined,
            cpus: Number(cpus),
            memory: Number(memory) * 1024 * 1024,
            diskSize: disk.trim() ? undefined : Number(diskGiB) * 1024 * 1024 * 1024,
            operation,
          });
          onCreated(created, start);
        },
      }}
      onClose={onClose}
    />
  );
}
