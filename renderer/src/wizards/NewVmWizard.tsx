// New VM: name and preset (Hangar's Debian guest, or your own kernel, initrd and disk), boot
// files for the custom preset, vCPUs, memory and disk size, summary; creating it fetches the
// guest and makes its disk (progress, cancellable), then it is started when asked.
import { useState } from 'react';
import type { Preferences, VmDetails, VmListEntry } from '../../../engine/api/channels.ts';
import type { Preset } from '../../../engine/vm/types.ts';
import { VM_CPUS, VM_DISK_GIB, VM_MEMORY_MIB } from '../../../engine/api/channels.ts';
import { freeName, MiB, numberProblem, vmNameProblem } from '../app/validation.ts';
import { Choices } from '../components/Choices.tsx';
import { useClient } from '../components/context.ts';
import { Wizard, type WizardStep } from '../components/Wizard.tsx';
import { Check, NumberField, summaryStep, TextField } from '../components/WizardParts.tsx';

interface Props {
  presets: Preset[];
  vms: VmListEntry[];
  defaults?: Preferences['defaultVm'];
  onClose: () => void;
  /** The new VM, and whether it should be started now. */
  onCreated: (vm: VmDetails, start: boolean) => void;
}

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
          <TextField label="Name" value={name} onChange={setName} />
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
          <TextField label="Kernel (RISC-V Linux Image or ELF)" value={kernel} onChange={setKernel} placeholder="/path/to/Image" />
          <TextField label="Initrd (optional)" value={initrd} onChange={setInitrd} placeholder="/path/to/initrd.cpio.gz" />
          <TextField label="Firmware (optional: OpenSBI fw_dynamic)" value={firmware} onChange={setFirmware} placeholder="Debian's OpenSBI from the guest cache" />
          <TextField label="Disk image to copy (optional: raw or qcow2)" value={disk} onChange={setDisk} placeholder="a new empty disk" />
          <TextField label="Kernel command line" value={append} onChange={setAppend} />
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
          <NumberField label="vCPUs" min={VM_CPUS.min} max={VM_CPUS.max} value={cpus} onChange={setCpus} />
          <NumberField label="Memory (MiB)" min={VM_MEMORY_MIB.min} max={VM_MEMORY_MIB.max} value={memory} onChange={setMemory} />
          <NumberField label="Disk size (GiB)" min={VM_DISK_GIB.min} max={VM_DISK_GIB.max} value={diskGiB} onChange={setDiskGiB} disabled={Boolean(disk.trim())}
            hint={disk.trim() ? 'The copied image keeps its own size.' : 'Grows as the guest writes (qcow2).'} />
          <Check className="wide" checked={start} onChange={setStart}>Start the VM when it is created</Check>
        </div>
      ),
      validate: () =>
        numberProblem('vCPUs', VM_CPUS, cpus)
        ?? numberProblem('Memory', VM_MEMORY_MIB, memory)
        ?? (disk.trim() ? undefined : numberProblem('Disk size', VM_DISK_GIB, diskGiB)),
    },
    summaryStep([
      ['Name', name],
      ['Preset', preset?.name],
      ['Kernel', custom && <span className="mono">{kernel}</span>],
      ['Initrd', custom && <span className="mono">{initrd || '(none)'}</span>],
      ['Firmware', custom && <span className="mono">{firmware || "(Debian's OpenSBI)"}</span>],
      ['Command line', custom && <span className="mono">{append || '(none)'}</span>],
      ['vCPUs', cpus],
      ['Memory', `${memory} MiB`],
      ['Disk', disk.trim() ? `a copy of ${disk.trim()}` : `${diskGiB} GiB, empty`],
      ['Then', start ? 'start it' : 'leave it powered off'],
    ], preset?.boot === 'debian-guest' && <p className="muted">The Debian guest is fetched and verified the first time (then kept in the download cache).</p>),
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
            memory: Number(memory) * MiB,
            diskSize: disk.trim() ? undefined : Number(diskGiB) * 1024 * MiB,
            operation,
          });
          onCreated(created, start);
        },
      }}
      onClose={onClose}
    />
  );
}
