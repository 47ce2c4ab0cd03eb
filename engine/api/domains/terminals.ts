// terminals: — views of container consoles and shells, as byte streams (see ../terminals.ts).
import type { HandlersOf, ServiceCore } from '../service.ts';

export function terminalHandlers(core: ServiceCore): HandlersOf<'terminals'> {
  return {
    'terminals:open': async ({ container, cols, rows }, { session }) => core.terminals.open(session, {
      data: (terminal, data) => session.emit({ type: 'terminal:data', terminal, data }),
      exit: (terminal, exitCode) => session.emit({ type: 'terminal:exit', terminal, exitCode }),
    }, container, { cols, rows }),
    'terminals:write': async ({ terminal, data }, { session }) => (core.terminals.write(session, terminal, data), null),
    'terminals:resize': async ({ terminal, cols, rows }, { session }) => (core.terminals.resize(session, terminal, cols, rows), null),
    'terminals:close': async ({ terminal }, { session }) => (core.terminals.close(session, terminal), null),
  };
}
