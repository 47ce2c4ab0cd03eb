// Drives a guest's serial console the way a person at the terminal would: wait for text, type a
// command, read its output and exit status. It works on any byte stream, so the same helper
// drives Hangar and the peer (qemu-system-riscv64) in benchmarks.

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
   */
  async run(command: string, timeoutMs = 60_000): Promise<{ output: string; status: number }> {
    const id = ++this.sequence;
    const from = this.text.length;
    this.type(`${command}; echo "@@EN""D${id}:$?@@"\n`);
    const echoed = await this.waitFor('\n', timeoutMs, from);
    const start = from + echoed.index + 1;
    const end = await this.waitFor(new RegExp(`@@END${id}:(\\d+)@@`), timeoutMs, start);
    const output = this.text.slice(start, start + end.index).replace(/\r/g, '');
    return { output: output.replace(/\n$/, ''), status: Number(end[1]) };
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
