// The typed face of the service API for its clients (the renderer, scripts): calls by channel
// name with checked types, results as values or, with invoke(), as thrown ApiRequestErrors.
// A transport only moves untyped calls and events; three exist: in-process (below), Electron
// IPC (main/preload) and WebSocket (websocket-client.ts).
import { HangarError, reviveError } from '../common/errors.ts';
import type { ApiError, ApiEvent, ArgsOf, Channel, Result, ResultOf } from './channels.ts';

export interface Transport {
  call(channel: string, args: unknown): Promise<Result<unknown>>;
  /** Returns the function that unsubscribes. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
}

/** A call's error as the client sees it: a HangarError with the engine's code, message and details. */
export class ApiRequestError extends HangarError {
  override name = 'ApiRequestError';
  constructor(readonly channel: string, error: ApiError) {
    const { code, message, details } = reviveError(error); // from a transport: any code the engine does not have is `failed`
    super(code, message, { details });
  }
}

export class ApiClient {
  constructor(private readonly transport: Transport) {}

  call<C extends Channel>(channel: C, args: ArgsOf<C>): Promise<Result<ResultOf<C>>> {
    return this.transport.call(channel, args) as Promise<Result<ResultOf<C>>>;
  }

  /** The result, or an ApiRequestError carrying the engine's code and message. */
  async invoke<C extends Channel>(channel: C, args: ArgsOf<C>): Promise<ResultOf<C>> {
    const result = await this.call(channel, args);
    if (!result.ok) throw new ApiRequestError(channel, result.error);
    return result.value;
  }

  subscribe(listener: (event: ApiEvent) => void): () => void {
    return this.transport.subscribe(listener);
  }
}

/** The in-process transport: a session of the service itself (the CLI, tests). */
export function inProcessTransport(connect: (listener: (event: ApiEvent) => void) => { call: Transport['call'] }): Transport {
  const listeners = new Set<(event: ApiEvent) => void>();
  const session = connect((event) => { for (const l of listeners) l(event); });
  return {
    call: (channel, args) => session.call(channel, args),
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
