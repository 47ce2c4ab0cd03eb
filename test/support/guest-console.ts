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

export class GuestConsole {
  private text = '';
  private waiters: Array<() => void> = [];
  private sequence = 0;

  constructor(private readonly stream: ConsoleStream) {
    stream.onData((chunk) => {
      this.text += Buffer.from(chunk).toString('latin1');
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Everything the guest has printed so far. */
  get transcript(): string {
    return this.text;
  }

  /** Waits until `pattern` appears in output printed after `from` (an index into the transcript). */
  async waitFor(pattern: RegExp | string, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : pattern;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = regex.exec(this.text.slice(from));
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${regex}; last output:\n${this.text.slice(-2000)}`);
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
    const from = this.text.length;
    const typedMarker = `"@@EN""D${id}:$?@@"`;
    this.type(`${command}; echo ${typedMarker}\n`);
    const end = await this.waitFor(new RegExp(`@@END${id}:(\\d+)@@`), timeoutMs, from);
    const printed = this.text.slice(from, from + end.index);
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
