// The typed face of the service API for its clients (the renderer, scripts): calls by channel
// name with checked types, results as values or, with invoke(), as thrown ApiRequestErrors.
// A transport only moves untyped calls and events; three exist: in-process (below), Electron
// IPC (main/preload) and WebSocket (websocket-client.ts).
import type { ApiError, ApiEvent, ArgsOf, Channel, ErrorCode, Result, ResultOf } from './channels.ts';

export interface Transport {
  call(channel: string, args: unknown): Promise<Result<unknown>>;
  /** Returns the function that unsubscribes. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
}

export class ApiRequestError extends Error {
  override name = 'ApiRequestError';
  readonly code: ErrorCode;
  constructor(readonly channel: string, error: ApiError) {
    super(error.message);
    this.code = error.code;
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
