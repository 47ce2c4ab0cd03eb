// A terminal in xterm.js: a container's console or a shell in it, or a VM's serial console.
// Output arrives as terminal:data events for this view; keys go back with terminals:write, one
// write at a time (app/input-queue.ts: a paste into a paused VM waits, it is not refused); the
// view follows the pane's size (terminals:resize). Copy and paste: the buttons, or
// Ctrl+Shift+C / Ctrl+Shift+V.
import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import type { TerminalOpened } from '../../../engine/api/channels.ts';
import { ApiRequestError } from '../../../engine/api/client.ts';
import { InputQueue, type InputState } from '../app/input-queue.ts';
import { useClient } from './context.ts';
import { ErrorMessage } from './ErrorMessage.tsx';

interface Props {
  /** Opens a view at this size (terminals:open, vms:console). */
  open: (size: { cols: number; rows: number }) => Promise<TerminalOpened>;
  /**
   * What the view shows: a new value opens a new view (the machine started again); undefined
   * while there is nothing to show (then `notLive` says why).
   */
  session: string | undefined;
  notLive: string;
  /** The bar's text for the kind of terminal opened. */
  title: (kind: TerminalOpened['kind']) => string;
  paused: boolean;
  /** The terminal's accessible name. */
  label: string;
  /**
   * A VM's console ends with its machine, and a restore starts a new machine under the same
   * session: then the view reopens by itself while the session lasts.
   */
  reopenOnExit?: boolean;
  /** A line the app writes into the view (dimmed) when its key changes: where a restored machine takes over. */
  notice?: { key: number; text: string };
  fontSize: number;
  dark: boolean;
}

const THEMES = {
  dark: { background: '#1b1e23', foreground: '#d8dee9', cursor: '#d8dee9', selectionBackground: '#3b4a63' },
  light: { background: '#fbfbfa', foreground: '#1f2328', cursor: '#1f2328', selectionBackground: '#b6d3ff' },
};
const REOPEN_DELAY_MS = 1000;

/** The engine's refusal of input past the console's cap (a VM's: invalid-state, "input is full"). */
const inputFull = (err: unknown) => err instanceof ApiRequestError && err.code === 'invalid-state' && /input is full/.test(err.message);

function inputNote(state: InputState): string | undefined {
  if (state.kind === 'full') return `Console input is full: ${state.chars} characters wait until the guest reads.`;
  if (state.kind === 'dropped') return `Input of ${state.chars} characters dropped: too much is waiting already.`;
  return undefined;
}

export function TerminalPane({ open, session, notLive, title, paused, label, reopenOnExit = false, notice, fontSize, dark }: Props) {
  const client = useClient();
  const host = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal>(null);
  const view = useRef<string>(null);
  const opener = useRef(open);
  opener.current = open;
  const [kind, setKind] = useState<TerminalOpened['kind']>();
  const [ended, setEnded] = useState<number>();
  const [error, setError] = useState<string>();
  const [input, setInput] = useState<InputState>({ kind: 'idle' });
  // Bumped to open the view again within the same session.
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (session === undefined || !host.current) return;
    const terminal = new Terminal({ fontSize, theme: dark ? THEMES.dark : THEMES.light, cursorBlink: true, scrollback: 5000, fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace' });
    const fit = new FitAddon();
    terminal.loadAddon(fit);
    terminal.open(host.current);
    fit.fit();
    term.current = terminal;
    let closed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const reopenSoon = () => {
      if (reopenOnExit && !closed) retry = setTimeout(() => setAttempt((a) => a + 1), REOPEN_DELAY_MS);
    };
    setEnded(undefined);
    setError(undefined);
    setInput({ kind: 'idle' });
    const queue = new InputQueue({
      send: (data) => (view.current ? client.invoke('terminals:write', { terminal: view.current, data }) : Promise.resolve()),
      isFull: inputFull,
      onState: setInput,
      // A write refused because the view just ended needs no message: the bar says it ended.
      onError: (err) => { if (view.current) setError(err instanceof Error ? err.message : String(err)); },
    });

    const unsubscribe = client.subscribe((event) => {
      if (event.type === 'terminal:data' && event.terminal === view.current) terminal.write(event.data);
      if (event.type === 'terminal:exit' && event.terminal === view.current) {
        terminal.write(`\r\n[ended with status ${event.exitCode}]\r\n`);
        setEnded(event.exitCode);
        view.current = null;
        reopenSoon();
      }
    });
    // Keys typed before the view is open wait for it. While the backlog is replayed, xterm
    // answers the queries in it (cursor position reports): answers to old questions, dropped.
    let phase: 'opening' | 'replaying' | 'open' = 'opening';
    const early: string[] = [];
    const send = (data: string) => {
      if (phase === 'opening') early.push(data);
      else if (phase === 'open' && view.current) queue.push(data);
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

    opener.current({ cols: terminal.cols, rows: terminal.rows }).then(
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
      (err: Error) => {
        setError(err.message);
        reopenSoon();
      },
    );

    return () => {
      closed = true;
      queue.close();
      clearTimeout(retry);
      observer.disconnect();
      unsubscribe();
      if (view.current) void client.call('terminals:close', { terminal: view.current });
      view.current = null;
      term.current = null;
      terminal.dispose();
    };
    // Font and theme apply below without a new view.
  }, [client, session, attempt, reopenOnExit]);

  // A notice is written once, when it is new: not again when the view is opened later.
  const shownNotice = useRef(notice?.key);
  useEffect(() => {
    if (!notice || notice.key === shownNotice.current) return;
    shownNotice.current = notice.key;
    term.current?.write(`\r\n\x1b[2m── ${notice.text} ──\x1b[0m\r\n`);
  }, [notice?.key]);

  useEffect(() => {
    if (!term.current) return;
    term.current.options.fontSize = fontSize;
    term.current.options.theme = dark ? THEMES.dark : THEMES.light;
  }, [fontSize, dark]);

  if (session === undefined) return <div className="pane-message">{notLive}</div>;
  return (
    <div className="terminal-pane">
      <div className="terminal-bar">
        <span>{kind ? title(kind) : 'Connecting…'}</span>
        {paused && <span className="note">Paused: input waits until it resumes.</span>}
        {inputNote(input) && <span className="note">{inputNote(input)}</span>}
        {ended !== undefined && <span className="note">Ended with status {ended}{reopenOnExit ? ': reconnecting…' : '.'}</span>}
        <span className="spacer" />
        <button type="button" onClick={() => void navigator.clipboard?.writeText(term.current?.getSelection() ?? '')}>Copy</button>
        <button type="button" onClick={() => void navigator.clipboard?.readText().then((t) => term.current?.paste(t))}>Paste</button>
      </div>
      <ErrorMessage message={error} />
      <div className="terminal-host" ref={host} aria-label={label} />
    </div>
  );
}
