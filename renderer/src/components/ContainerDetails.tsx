// The details pane of a container: its configuration, terminal, log and snapshots.
import { useEffect, useState } from 'react';
import type { ContainerInfo, SnapshotInfo } from '../../../engine/api/channels.ts';
import { containerIsLive } from '../app/actions.ts';
import type { Usage } from '../app/format.ts';
import { formatBytes, formatTime, shortDigest, shortId } from '../app/format.ts';
import { useClient } from './context.ts';
import { DetailsFrame, type Tab } from './DetailsFrame.tsx';
import { ErrorMessage } from './ErrorMessage.tsx';
import { ContainerSnapshotsTree } from './ContainerSnapshotsTree.tsx';
import { TerminalPane } from './TerminalPane.tsx';

const TABS: { id: Tab; label: string }[] = [
  { id: 'details', label: 'Details' },
  { id: 'terminal', label: 'Terminal' },
  { id: 'logs', label: 'Log' },
  { id: 'snapshots', label: 'Snapshots' },
];

interface Props {
  container: ContainerInfo;
  usage?: Usage;
  tab: Tab;
  onTab: (tab: Tab) => void;
  snapshots: SnapshotInfo[];
  snapshotsError?: string;
  onRestore: (snapshot: string) => void;
  onTakeSnapshot: () => void;
  fontSize: number;
  dark: boolean;
}

function describeStatus(c: ContainerInfo): string {
  if (c.status !== 'exited') return c.status;
  if (c.lost) return 'exited (status unknown)';
  return `exited with status ${c.exitCode}${c.oomKilled ? ' (out of memory)' : ''}`;
}

export function ContainerDetailsPane(props: Props) {
  const { container, tab, onTab } = props;
  const client = useClient();
  return (
    <DetailsFrame
      kind="container"
      name={container.name}
      subtitle={<>Container · {container.image} · <span className={`state state-${container.status}`}>{describeStatus(container)}</span></>}
      tabs={TABS}
      tab={tab}
      onTab={onTab}
    >
      {tab === 'details' && <Configuration {...props} />}
      {tab === 'terminal' && (
        <TerminalPane
          open={(size) => client.invoke('terminals:open', { container: container.id, ...size })}
          session={containerIsLive(container.status) ? `${container.id}/${container.startedAt}` : undefined}
          notLive={`The container is ${container.status}. Start it to use its terminal.`}
          title={(kind) => (kind === 'console' ? "Console (the container's own terminal)" : 'Shell (/bin/sh in the container)')}
          paused={container.status === 'paused'}
          label={`Terminal of ${container.name}`}
          fontSize={props.fontSize}
          dark={props.dark}
        />
      )}
      {tab === 'logs' && <LogPane container={container} />}
      {tab === 'snapshots' && (
        <ContainerSnapshotsTree container={container} snapshots={props.snapshots} error={props.snapshotsError} onRestore={props.onRestore} onTake={props.onTakeSnapshot} />
      )}
    </DetailsFrame>
  );
}

function Configuration({ container, usage }: Props) {
  return (
    <div className="configuration">
      <section>
        <h2>General</h2>
        <dl>
          <dt>Name</dt><dd>{container.name}</dd>
          <dt>ID</dt><dd className="mono">{shortId(container.id)}</dd>
          <dt>Created</dt><dd>{formatTime(container.created)}</dd>
          <dt>State</dt><dd>{describeStatus(container)}</dd>
          {container.startedAt && <><dt>Started</dt><dd>{formatTime(container.startedAt)}</dd></>}
          {container.finishedAt && <><dt>Finished</dt><dd>{formatTime(container.finishedAt)}</dd></>}
        </dl>
      </section>
      <section>
        <h2>Image and process</h2>
        <dl>
          <dt>Image</dt><dd>{container.image}</dd>
          <dt>Digest</dt><dd className="mono">{shortDigest(container.imageDigest)}</dd>
          <dt>Command</dt><dd className="mono">{container.command.join(' ')}</dd>
          <dt>Terminal</dt><dd>{container.tty ? 'yes' : 'no'}</dd>
        </dl>
      </section>
      <section>
        <h2>Resources</h2>
        {usage ? (
          <dl>
            <dt>CPU</dt><dd>{usage.cpuPercent === undefined ? 'measuring…' : `${usage.cpuPercent.toFixed(1)}%`}</dd>
            <dt>Memory</dt><dd>{formatBytes(usage.memoryBytes)}{usage.memoryLimitBytes ? ` of ${formatBytes(usage.memoryLimitBytes)}` : ' (no limit)'}</dd>
            <dt>Processes</dt><dd>{usage.pids}</dd>
          </dl>
        ) : <p className="muted">Shown while the container runs.</p>}
      </section>
    </div>
  );
}

function LogPane({ container }: { container: ContainerInfo }) {
  const client = useClient();
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    const load = () => client.invoke('containers:logs', { container: container.id }).then(
      // Terminal output carries escape sequences: the log view shows text only.
      (bytes) => { if (live) setText(new TextDecoder().decode(bytes).replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g, '')); },
      (err: Error) => { if (live) setError(err.message); },
    );
    void load();
    const timer = setInterval(load, 2000);
    return () => { live = false; clearInterval(timer); };
  }, [client, container.id]);
  return (
    <div className="log-pane">
      <ErrorMessage message={error} />
      <pre tabIndex={0} aria-label={`Log of ${container.name}`}>{text || '(nothing logged yet)'}</pre>
    </div>
  );
}
