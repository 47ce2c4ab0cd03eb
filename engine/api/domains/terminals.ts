// terminals: — views of container consoles and shells, as byte streams (see ../terminals.ts).
import type { HandlersOf, ServiceCore, SessionHandle } from '../service.ts';
import type { TerminalSink } from '../terminals.ts';

/** Terminal output as events for the session that opened the view. */
export function sessionSink(session: SessionHandle): TerminalSink {
  return {
    data: (terminal, data) => session.emit({ type: 'terminal:data', terminal, data }),
    exit: (terminal, exitCode) => session.emit({ type: 'terminal:exit', terminal, exitCode }),
  };
}

export function terminalHandlers(core: ServiceCore): HandlersOf<'terminals'> {
  return {
    'terminals:open': async ({ container, cols, rows }, { session }) => core.terminals.open(session, sessionSink(session), container, { cols, rows }),
    'terminals:write': async ({ terminal, data }, { session }) => (await core.terminals.write(session, terminal, data), null),
    'terminals:resize': async ({ terminal, cols, rows }, { session }) => (core.terminals.resize(session, terminal, cols, rows), null),
    'terminals:close': async ({ terminal }, { session }) => (core.terminals.close(session, terminal), null),
  };
}
