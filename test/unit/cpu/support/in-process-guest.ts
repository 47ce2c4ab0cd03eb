// The Debian guest on one hart run on the calling thread: the board's devices (engine/machine/
// machine.ts) and one core instance over its memory, stepped by the caller — no vCPU or device
// threads. The profile of a boot (profile-boot.ts) and the lockstep checker's run of real guest
// code (test/integration/engine/lockstep-boot.test.ts) are made this way.
//
// With `virtualTime`, guest time is a function of the work done, not of the host clock: the
// core's clock and the CLINT's mtime read `ns`, which the caller moves (advance); two guests
// stepped alike then see the same time at the same instruction.
import { Cpu, CpuExit, SharedHartLines } from '../../../../engine/cpu/cpu.ts';
import { MACHINE_CLOCK_BASE_NS } from '../../../../engine/cpu/layout.ts';
import { GuestClock } from '../../../../engine/devices/clock.ts';
import { ensureDebianGuest } from '../../../../engine/guests/debian.ts';
import { Machine } from '../../../../engine/machine/machine.ts';
import { createVcpuBus } from '../../../../engine/machine/virt.ts';

export interface InProcessGuestOptions {
  ramBytes: number;
  jitThreshold?: number;
  virtualTime?: boolean;
}

/** Guest time in ns of virtual time a step of `instructions` takes: a 100 MHz hart. */
export const NS_PER_INSTRUCTION = 10n;

export class InProcessGuest {
  /** Everything the guest wrote on its serial console. */
  output = '';
  private ns = 0n;

  private constructor(readonly machine: Machine, readonly cpu: Cpu, private readonly virtual: boolean) {}

  static async create(options: InProcessGuestOptions): Promise<InProcessGuest> {
    const guest = await ensureDebianGuest({});
    let self: InProcessGuest | undefined;
    const decoder = new TextDecoder();
    const machine = await Machine.create({
      harts: 1, ramBytes: options.ramBytes, firmwarePath: guest.firmware, kernelPath: guest.kernel,
      initrdPath: guest.initrd, bootargs: guest.bootargs,
    }, {
      console: { write: (bytes) => { self!.output += decoder.decode(bytes, { stream: true }); }, read: () => null },
      agent: { write: () => {}, read: () => null },
    }, { wakeHart: () => {} });
    const virtual = options.virtualTime ?? false;
    const clock = virtual ? { now: () => self!.ns / 100n } : new GuestClock(machine.memory);
    const bus = createVcpuBus({ harts: 1, clock, lines: new SharedHartLines(machine.memory, 1) }, machine.bus);
    const cpu = new Cpu(machine.module, machine.memory, {
      ramBytes: options.ramBytes, harts: 1, bus, jitThreshold: options.jitThreshold,
      nowNs: virtual ? () => self!.ns : undefined,
    });
    self = new InProcessGuest(machine, cpu, virtual);
    machine.start();
    // guest mtime = (nowNs() - base) / 100: with virtual time, nowNs() is guest time itself
    if (virtual) new BigInt64Array(machine.memory.buffer, MACHINE_CLOCK_BASE_NS, 1)[0] = 0n;
    return self;
  }

  /**
   * Runs up to `budget` instructions; with virtual time, moves time on by those it ran, or to the next
   * timer interrupt when the hart waits for one.
   */
  step(budget: number): CpuExit {
    const before = this.cpu.executed(0);
    const exit = this.cpu.run(0, budget);
    if (!this.virtual) {
      this.machine.poll();
      return exit;
    }
    this.ns += (this.cpu.executed(0) - before) * NS_PER_INSTRUCTION;
    if (exit === CpuExit.Idle) {
      const next = this.cpu.nextTimerTicks(0) * 100n;
      if (next > this.ns && next !== BigInt.asUintN(64, -1n) * 100n) this.ns = next;
    }
    return exit;
  }
}
