// A container's console (its own terminal) or a shell in it, in xterm.js. Output arrives as
// terminal:data events for this view; keys go back with terminals:write; the view follows the
// pane's size (terminals:resize). Copy and paste: the buttons, or Ctrl+Shift+C / Ctrl+Shift+V.
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import type { ContainerInfo } from '../../../engine/api/channels.ts';
import { useClient } from './context.ts';
import { ErrorMessage } from './ErrorMessage.tsx';

interface Props {
  container: ContainerInfo;
  fontSize: number;
  dark: boolean;
}

const THEMES = {
  dark: { background: '#1b1e23', foreground: '#d8dee9', cursor: '#d8dee9', selectionBackground: '#3b4a63' },
  light: { background: '#fbfbfa', foreground: '#1f2328', cursor: '#1f2328', selectionBackground: '#b6d3ff' },
};

export function TerminalPane({ container, fontSize, dark }: Props) {
  const client = useClient();
  const host = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal>(null);
  const view = useRef<string>(null);
  const [kind, setKind] = useState<'console' | 'shell'>();
  const [ended, setEnded] = useState<number>();
  const [error, setError] = useState<string>();
  const running = container.status === 'running' || container.status === 'paused';

  useEffect(() => {
    if (!running || !host.current) return;
    const terminal = new Terminal({ fontSize, theme: dark ? THEMES.dark : THEMES.light, cursorBlink: true, scrollback: 5000, fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace' });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(host.current);
    fit.fit();
    term.current = terminal;
    let closed = false;
    setEnded(undefined);
    setError(undefined);

    const unsubscribe = client.subscribe((event) => {
      if (event.type === 'terminal:data' && event.terminal === view.current) terminal.write(event.data);
      if (event.type === 'terminal:exit' && event.terminal === view.current) {
        terminal.write(`\r\n[process ended with status ${event.exitCode}]\r\n`);
        setEnded(event.exitCode);
        view.current = null;
      }
    });
    // Keys typed before the view is open wait for it. While the backlog is replayed, xterm
    // answers the queries in it (cursor position reports): answers to old questions, dropped.
    let phase: 'opening' | 'replaying' | 'open' = 'opening';
    const early: string[] = [];
    const send = (data: string) => {
      if (phase === 'opening') early.push(data);
      else if (phase === 'open' && view.current) void client.call('terminals:write', { terminal: view.current, data });
    };
    terminal.onData(send);
    terminal.onResize(({ cols, rows }) => {
      if (view.current) void client.call('terminals:resize', { terminal: view.current, cols, rows });
    });
    terminal.attachCustomKeyEventHandler((e) => {
      if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
      if (e.code === 'KeyC') {
        void navigator.clipboard?.writeText(terminal.getSelection());
        return false;
      }
      if (e.code === 'KeyV') {
        void navigator.clipboard?.readText().then((text) => terminal.paste(text));
        return false;
      }
      return true;
    });
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(host.current);

    client.invoke('terminals:open', { container: container.id, cols: terminal.cols, rows: terminal.rows }).then(
      (opened) => {
        if (closed) {
          void client.call('terminals:close', { terminal: opened.terminal });
          return;
        }
        view.current = opened.terminal;
        setKind(opened.kind);
        phase = 'replaying';
        terminal.write(opened.backlog, () => {
          phase = 'open';
          for (const data of early.splice(0)) send(data);
        });
        terminal.focus();
      },
      (err: Error) => setError(err.message),
    );

    return () => {
      closed = true;
      observer.disconnect();
      unsubscribe();
      if (view.current) void client.call('terminals:close', { terminal: view.current });
      view.current = null;
      term.current = null;
      terminal.dispose();
    };
    // A new view when the container starts again (a new process); font and theme apply below.
  }, [client, container.id, running, container.startedAt]);

  useEffect(() => {
    if (!term.current) return;
    term.current.options.fontSize = fontSize;
    term.current.options.theme = dark ? THEMES.dark : THEMES.light;
  }, [fontSize, dark]);

  if (!running) {
    return <div className="pane-message">The container is {container.status}. Start it to use its terminal.</div>;
  }
  return (
    <div className="terminal-pane">
      <div className="terminal-bar">
        <span>{kind === 'console' ? 'Console (the container\'s own terminal)' : kind === 'shell' ? 'Shell (/bin/sh in the container)' : 'Connecting…'}</span>
        {container.status === 'paused' && <span className="note">Paused: input waits until it resumes.</span>}
        {ended !== undefined && <span className="note">Ended with status {ended}.</span>}
        <span className="spacer" />
        <button type="button" onClick={() => void navigator.clipboard?.writeText(term.current?.getSelection() ?? '')}>Copy</button>
        <button type="button" onClick={() => void navigator.clipboard?.readText().then((t) => term.current?.paste(t))}>Paste</button>
      </div>
      <ErrorMessage message={error} />
      <div className="terminal-host" ref={host} aria-label={`Terminal of ${container.name}`} />
    </div>
  );
}
