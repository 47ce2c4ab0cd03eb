// New Container: image (a local one, or pulled from a registry with progress), name and
// command, environment, limits, summary; creates the container and, if asked, starts it.
import { useState } from 'react';
import type { ContainerInfo, ImageSummary } from '../../../engine/api/channels.ts';
import { CONTAINER_CPUS, CONTAINER_MEMORY_BYTES, CONTAINER_PIDS, type Range } from '../../../engine/api/channels.ts';
import { splitCommand } from '../app/actions.ts';
import { formatBytes } from '../app/format.ts';
import { containerNameProblem, mebibytesToBytes, numberProblem } from '../app/validation.ts';
import { Choices } from '../components/Choices.tsx';
import { useClient } from '../components/context.ts';
import { Wizard, type WizardStep } from '../components/Wizard.tsx';
import { Check, NumberField, summaryStep, TextArea, TextField } from '../components/WizardParts.tsx';

const ENV = /^[^=\s]+=/;

/** A limit left empty is no limit; a typed one must be in its range. */
const limitProblem = (label: string, range: Range, typed: string, toValue?: (n: number) => number) =>
  typed.trim() ? numberProblem(label, range, typed, toValue)?.replace(/\.$/, ', or leave it empty for no limit.') : undefined;

interface Props {
  images: ImageSummary[];
  containers: ContainerInfo[];
  onClose: () => void;
  /** The new container (after it started, when asked to). */
  onCreated: (container: ContainerInfo) => void;
}

export function NewContainerWizard({ images, containers, onClose, onCreated }: Props) {
  const client = useClient();
  const [source, setSource] = useState<'local' | 'pull'>(images.length ? 'local' : 'pull');
  const [image, setImage] = useState(images[0]?.name ?? '');
  const [reference, setReference] = useState('');
  const [name, setName] = useState('');
  const [command, setCommand] = useState('');
  const [tty, setTty] = useState(true);
  const [start, setStart] = useState(true);
  const [env, setEnv] = useState('');
  const [memoryMiB, setMemoryMiB] = useState('');
  const [cpus, setCpus] = useState('');
  const [pids, setPids] = useState('');

  const envLines = () => env.split('\n').map((l) => l.trim()).filter(Boolean);
  const chosenImage = source === 'local' ? image : reference.trim();


  const steps: WizardStep[] = [
    {
      id: 'image',
      title: 'Image',
      content: (
        <div className="fields">
          <Choices
            label="Where the image comes from"
            name="source"
            choices={[
              { value: 'local', label: `A local image${images.length ? '' : ' (none stored yet)'}`, disabled: !images.length },
              { value: 'pull', label: 'Pull from a registry' },
            ]}
            value={source}
            onChange={setSource}
          />
          {source === 'local' ? (
            <label className="field">
              <span>Image</span>
              <select size={Math.min(6, Math.max(2, images.length))} value={image} onChange={(e) => setImage(e.target.value)}>
                {images.map((i) => (
                  <option key={i.name} value={i.name}>{`${i.name} — ${formatBytes(i.size)}, ${i.architecture}`}</option>
                ))}
              </select>
            </label>
          ) : (
            <TextField label="Image reference" value={reference} onChange={setReference} placeholder="registry.example:5000/name:tag" hint="Pulled when you press Next." />
          )}
        </div>
      ),
      validate: () => (chosenImage ? undefined : source === 'local' ? 'Choose an image.' : 'Enter the reference of the image to pull.'),
      onNext: source === 'pull'
        ? {
            label: `Pulling ${reference.trim()}`,
            work: async (operation: string) => {
              const pulled = await client.invoke('images:pull', { reference: reference.trim(), operation });
              setImage(pulled.name);
              setSource('local');
            },
          }
        : undefined,
    },
    {
      id: 'process',
      title: 'Name and command',
      content: (
        <div className="fields">
          <TextField label="Name" value={name} onChange={setName} placeholder="(generated when empty)" />
          <TextField label="Command" value={command} onChange={setCommand} placeholder="(the image's own command when empty)" />
          <Check checked={tty} onChange={setTty}>Interactive terminal (a console to type in)</Check>
          <Check checked={start} onChange={setStart}>Start the container when it is created</Check>
        </div>
      ),
      validate: () => {
        const problem = name ? containerNameProblem(name, containers) : undefined;
        if (problem) return problem;
        try {
          splitCommand(command);
        } catch (err) {
          return `Command: ${(err as Error).message}.`;
        }
        return undefined;
      },
    },
    {
      id: 'env',
      title: 'Environment',
      content: (
        <div className="fields">
          <TextArea label="Variables, one KEY=VALUE a line" rows={6} value={env} onChange={setEnv} placeholder={'LANG=C.UTF-8\nDEBUG=1'} hint="Added to the image's own." />
        </div>
      ),
      validate: () => {
        const bad = envLines().find((l) => !ENV.test(l));
        return bad ? `Environment: "${bad}" is not KEY=VALUE.` : undefined;
      },
    },
    {
      id: 'limits',
      title: 'Limits',
      content: (
        <div className="fields grid">
          <NumberField label="Memory (MiB)" value={memoryMiB} onChange={setMemoryMiB} placeholder="no limit" />
          <NumberField label="CPUs" value={cpus} onChange={setCpus} placeholder="no limit" hint="0.5 is half a CPU." />
          <NumberField label="Processes" value={pids} onChange={setPids} placeholder="no limit" />
        </div>
      ),
      validate: () =>
        limitProblem('Memory', CONTAINER_MEMORY_BYTES, memoryMiB, mebibytesToBytes)
        ?? limitProblem('CPUs', CONTAINER_CPUS, cpus)
        ?? limitProblem('Processes', CONTAINER_PIDS, pids),
    },
    summaryStep([
      ['Image', chosenImage],
      ['Name', name || '(generated)'],
      ['Command', command || "(the image's)"],
      ['Terminal', tty ? 'yes' : 'no'],
      ['Environment', envLines().length ? envLines().join(', ') : "(the image's)"],
      ['Limits', [memoryMiB && `${memoryMiB} MiB`, cpus && `${cpus} CPUs`, pids && `${pids} processes`].filter(Boolean).join(', ') || 'none'],
      ['Then', start ? 'start it' : 'leave it created'],
    ]),
  ];

  return (
    <Wizard
      title="New Container"
      steps={steps}
      finishLabel={start ? 'Create and start' : 'Create'}
      finish={{
        label: 'Creating the container',
        work: async (operation) => {
          const words = splitCommand(command);
          let created = await client.invoke('containers:create', {
            image: chosenImage,
            name: name || undefined,
            command: words.length ? words : undefined,
            env: envLines().length ? envLines() : undefined,
            tty,
            memory: memoryMiB ? mebibytesToBytes(Number(memoryMiB)) : undefined,
            cpus: cpus ? Number(cpus) : undefined,
            pids: pids ? Number(pids) : undefined,
            operation,
          });
          if (start) created = await client.invoke('containers:start', { container: created.id });
          onCreated(created);
        },
      }}
      onClose={onClose}
    />
  );
}
