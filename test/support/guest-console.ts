// Drives a guest's serial console the way a person at the terminal would: wait for text, type a
// command, read its output and exit status. It works on any byte stream, so the same helper
// drives Hangar and the peer (qemu-system-riscv64) in benchmarks.

/** The shell prompt of Hangar's Debian guest (busybox ash as root), with the cursor-position query ash sends after it. */
export const SHELL_PROMPT = /# (\x1b\[6n)?$/;

export interface ConsoleStream {
  /** Subscribes to bytes the guest writes. */
  onData(listener: (chunk: Uint8Array) => void): void;
  /** Types bytes into the guest's console. */
  write(bytes: string): void;
}

/**
 * How far back a wait looks into output it has already searched: a pattern must match within
 * this much text (prompts and markers do). Searching only the new output keeps a command that
 * prints megabytes linear, where searching the whole transcript on every chunk was quadratic.
 */
const LOOKBEHIND = 4096;

export class GuestConsole {
  /** The transcript in pieces as it arrived (joined lazily), and where each piece starts in it. */
  private chunks: string[] = [];
  private starts: number[] = [];
  private length = 0;
  private waiters: Array<() => void> = [];
  private sequence = 0;

  constructor(private readonly stream: ConsoleStream) {
    stream.onData((chunk) => {
      if (chunk.length === 0) return;
      this.starts.push(this.length);
      this.chunks.push(Buffer.from(chunk).toString('latin1'));
      this.length += chunk.length;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Everything the guest has printed so far. */
  get transcript(): string {
    const text = this.chunks.join('');
    this.chunks = text ? [text] : [];
    this.starts = text ? [0] : [];
    return text;
  }

  /** The transcript from index `start` on, joining only the pieces that hold it. */
  private textFrom(start: number): string {
    start = Math.max(start, 0);
    let first = this.chunks.length;
    while (first > 0 && this.starts[first - 1]! > start) first--;
    first = Math.max(first - 1, 0);
    return this.chunks.slice(first).join('').slice(start - (this.starts[first] ?? 0));
  }

  /** Waits until `pattern` appears in output printed after `from` (an index into the transcript). */
  async waitFor(pattern: RegExp | string, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : pattern;
    const deadline = Date.now() + timeoutMs;
    let searched = from;
    for (;;) {
      const start = Math.max(from, searched - LOOKBEHIND);
      const text = this.textFrom(start);
      const match = regex.exec(text);
      if (match) {
        match.index += start - from;
        return match;
      }
      searched = start + text.length;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${regex}; last output:\n${this.textFrom(this.length - 2000)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  type(text: string): void {
    this.stream.write(text);
  }

  /**
   * Runs a shell command in the guest and returns what it printed and its exit status. The end
   * marker is split by quotes in the typed line, so the echo of the line itself never matches.
   * Output starts after the last echo of the typed line: the shell may redraw the line (after
   * its cursor-position query or a wrap) before it runs it.
   */
  async run(command: string, timeoutMs = 60_000): Promise<{ output: string; status: number }> {
    const id = ++this.sequence;
    const from = this.length;
    const typedMarker = `"@@EN""D${id}:$?@@"`;
    this.type(`${command}; echo ${typedMarker}\n`);
    const end = await this.waitFor(new RegExp(`@@END${id}:(\\d+)@@`), timeoutMs, from);
    const printed = this.textFrom(from).slice(0, end.index);
    // A line the terminal wrapped may not hold the marker whole: then the first line break ends the echo.
    const echo = printed.lastIndexOf(typedMarker);
    const start = printed.indexOf('\n', Math.max(echo, 0)) + 1;
    const output = printed.slice(start).replace(/\r/g, '');
    return { output: output.replace(/\n$/, ''), status: Number(end[1]) };
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
