// New Container: image (a local one, or pulled from a registry with progress), name and
// command, environment, limits, summary; creates the container and, if asked, starts it.
import { useState } from 'react';
import type { ContainerInfo, ImageSummary } from '../../../engine/api/channels.ts';
import { splitCommand } from '../app/actions.ts';
import { formatBytes } from '../app/format.ts';
import { Choices } from '../components/Choices.tsx';
import { useClient } from '../components/context.ts';
import { Wizard } from '../components/Wizard.tsx';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const ENV = /^[^=\s]+=/;

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

  function limitProblem(): string | undefined {
    if (memoryMiB && !(Number(memoryMiB) >= 6)) return 'Memory: at least 6 MiB, or leave it empty for no limit.';
    if (cpus && !(Number(cpus) > 0)) return 'CPUs: a number above 0 (0.5 is half a CPU), or leave it empty.';
    if (pids && !(Number.isInteger(Number(pids)) && Number(pids) >= 1)) return 'Processes: a whole number of at least 1, or leave it empty.';
    return undefined;
  }

  const steps = [
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
            <label className="field">
              <span>Image reference</span>
              <input value={reference} onChange={(e) => setReference(e.target.value)} placeholder="registry.example:5000/name:tag" spellCheck={false} />
              <small>Pulled when you press Next.</small>
            </label>
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
          <label className="field">
            <span>Name</span>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="(generated when empty)" spellCheck={false} />
          </label>
          <label className="field">
            <span>Command</span>
            <input value={command} onChange={(e) => setCommand(e.target.value)} placeholder="(the image's own command when empty)" spellCheck={false} />
          </label>
          <label className="check">
            <input type="checkbox" checked={tty} onChange={(e) => setTty(e.target.checked)} />
            Interactive terminal (a console to type in)
          </label>
          <label className="check">
            <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} />
            Start the container when it is created
          </label>
        </div>
      ),
      validate: () => {
        if (name && !NAME.test(name)) return 'Name: letters, digits, _ . - (starting with a letter or digit, up to 128).';
        if (name && containers.some((c) => c.name === name)) return `Name: a container named "${name}" already exists.`;
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
          <label className="field">
            <span>Variables, one KEY=VALUE a line</span>
            <textarea rows={6} value={env} onChange={(e) => setEnv(e.target.value)} spellCheck={false} placeholder={'LANG=C.UTF-8\nDEBUG=1'}
              onKeyDown={(e) => { if (e.key === 'Enter' && e.ctrlKey) e.currentTarget.form?.requestSubmit(); }} />
            <small>Added to the image's own. Ctrl+Enter goes on.</small>
          </label>
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
          <label className="field">
            <span>Memory (MiB)</span>
            <input inputMode="numeric" value={memoryMiB} onChange={(e) => setMemoryMiB(e.target.value)} placeholder="no limit" />
          </label>
          <label className="field">
            <span>CPUs</span>
            <input inputMode="decimal" value={cpus} onChange={(e) => setCpus(e.target.value)} placeholder="no limit" />
          </label>
          <label className="field">
            <span>Processes</span>
            <input inputMode="numeric" value={pids} onChange={(e) => setPids(e.target.value)} placeholder="no limit" />
          </label>
        </div>
      ),
      validate: limitProblem,
    },
    {
      id: 'summary',
      title: 'Summary',
      content: (
        <dl className="summary">
          <dt>Image</dt><dd>{chosenImage}</dd>
          <dt>Name</dt><dd>{name || '(generated)'}</dd>
          <dt>Command</dt><dd>{command || "(the image's)"}</dd>
          <dt>Terminal</dt><dd>{tty ? 'yes' : 'no'}</dd>
          <dt>Environment</dt><dd>{envLines().length ? envLines().join(', ') : '(the image\'s)'}</dd>
          <dt>Limits</dt>
          <dd>{[memoryMiB && `${memoryMiB} MiB`, cpus && `${cpus} CPUs`, pids && `${pids} processes`].filter(Boolean).join(', ') || 'none'}</dd>
          <dt>Then</dt><dd>{start ? 'start it' : 'leave it created'}</dd>
        </dl>
      ),
    },
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
            memory: memoryMiB ? Math.round(Number(memoryMiB) * 1024 * 1024) : undefined,
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
