// Keys and pastes on their way to a terminal, one terminals:write at a time. The engine resolves a
// write once the console has taken it (a paused VM takes nothing: the write waits) and refuses one
// that would pass its input cap (4 MiB); sending the next write only after the last one resolved,
// in pieces well under that cap, keeps a huge paste from being refused piecemeal. Input waits
// here meanwhile, up to `maxChars`; past that it is dropped whole, and said so.

/** What the pane shows about its input: all sent, waiting for the console, or some dropped. */
export type InputState =
  | { kind: 'idle' }
  | { kind: 'waiting'; chars: number }
  | { kind: 'full'; chars: number }
  | { kind: 'dropped'; chars: number };

export interface InputQueueOptions {
  /** Sends one piece; resolves once the console took it. */
  send: (data: string) => Promise<unknown>;
  /** Whether a refusal means "the console's input is full" (retried later) rather than a failure. */
  isFull: (err: unknown) => boolean;
  onState?: (state: InputState) => void;
  /** A failure other than a full input: what was waiting is dropped with it. */
  onError?: (err: unknown) => void;
  /** The most characters that wait here (default 16 Mi). */
  maxChars?: number;
  /** The largest piece one write carries (default 64 Ki, the console ring's size). */
  pieceChars?: number;
  /** How long to wait before trying again after a "full" refusal (default 500 ms). */
  retryMs?: number;
}

export class InputQueue {
  private readonly pending: string[] = [];
  private chars = 0;
  private sending = false;
  private closed = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private readonly maxChars: number;
  private readonly pieceChars: number;
  private readonly retryMs: number;

  constructor(private readonly options: InputQueueOptions) {
    this.maxChars = options.maxChars ?? 16 * 1024 * 1024;
    this.pieceChars = options.pieceChars ?? 64 * 1024;
    this.retryMs = options.retryMs ?? 500;
  }

  /** Characters not yet taken by the console. */
  get waiting(): number {
    return this.chars;
  }

  /** Queues `data` (whole, or not at all if it would pass the bound) and sends it in turn. */
  push(data: string): void {
    if (this.closed || data.length === 0) return;
    if (data.length > this.maxChars - this.chars) {
      this.options.onState?.({ kind: 'dropped', chars: data.length });
      return;
    }
    this.pending.push(data);
    this.chars += data.length;
    if (!this.sending && this.retry === undefined) void this.pump();
  }

  /** Stops sending; what waits is dropped (the view closed). */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.pending.length = 0;
    this.chars = 0;
  }

  private async pump(): Promise<void> {
    this.sending = true;
    while (!this.closed && this.pending.length > 0) {
      const piece = this.nextPiece();
      try {
        await this.options.send(piece);
      } catch (err) {
        if (this.closed) break;
        this.pending.unshift(piece);
        if (this.options.isFull(err)) {
          this.options.onState?.({ kind: 'full', chars: this.chars });
          this.sending = false;
          this.retry = setTimeout(() => {
            this.retry = undefined;
            void this.pump();
          }, this.retryMs);
          return;
        }
        this.pending.length = 0;
        this.chars = 0;
        this.sending = false;
        this.options.onError?.(err);
        this.options.onState?.({ kind: 'idle' });
        return;
      }
      this.chars -= piece.length;
      if (this.chars > 0) this.options.onState?.({ kind: 'waiting', chars: this.chars });
    }
    this.sending = false;
    if (!this.closed) this.options.onState?.({ kind: 'idle' });
  }

  /** Takes up to pieceChars from the front, joining keystrokes, never splitting a surrogate pair. */
  private nextPiece(): string {
    let piece = '';
    while (this.pending.length > 0 && piece.length < this.pieceChars) {
      const head = this.pending[0]!;
      const room = this.pieceChars - piece.length;
      if (head.length <= room) {
        piece += head;
        this.pending.shift();
        continue;
      }
      let cut = room;
      const code = head.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) { // a high surrogate stays with its pair
        if (cut === 1 && piece.length > 0) break;
        cut += cut === 1 ? 1 : -1;
      }
      piece += head.slice(0, cut);
      this.pending[0] = head.slice(cut);
      break;
    }
    return piece;
  }
}
