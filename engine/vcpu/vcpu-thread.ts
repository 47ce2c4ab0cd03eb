// One vCPU thread: its own instance of the core over the machine's shared memory, running one
// hart. The hart's CLINT registers (msip, mtimecmp, mtime) are served here, in the thread; every
// other device is on the device thread, reached through this hart's mailbox. A hart in WFI with
// nothing pending (OpenSBI parks harts not yet started by SBI HSM that way) sleeps on its wake
// word until its next timer interrupt is due or something rings it.
import { parentPort, workerData } from 'node:worker_threads';
import { Cpu, CpuExit, SharedHartLines } from '../cpu/cpu.ts';
import { Clint } from '../devices/clint.ts';
import { InterruptBit, type AccessWidth, type Device, type MmioBus } from '../devices/device.ts';
import { GuestClock } from '../devices/clock.ts';
import type { BusWindow } from '../machine/machine.ts';
import { errorMessage, serializeError } from '../common/errors.ts';
import { WakingHartLines } from '../machine/waking-hart-lines.ts';
import { MachineControl, StopReason } from './control.ts';
import { MailboxBus } from './mmio-mailbox.ts';
import type { VcpuBoard, VcpuData, VcpuFailure } from './protocol.ts';

/** Instructions between looks at the control block (how soon a park or stop is seen). */
const BATCH = 20_000;
/** A device's register accesses; its reset and state belong to the board's instance (device thread). */
type DeviceRegisters = Pick<Device, 'read' | 'write'>;

/** End of the CLINT's msip registers (engine/devices/clint.ts). */
const CLINT_MSIP_END = 0x4000;

/**
 * This thread's CLINT. Each vCPU thread has its own Clint over the shared interrupt lines and
 * timer compares, so an msip register is read back from the shared line: another thread's Clint
 * may have changed it since this one wrote it.
 */
class SharedMsipClint implements DeviceRegisters {
  constructor(private readonly clint: Clint, private readonly lines: SharedHartLines, private readonly harts: number) {}

  read(offset: number, width: AccessWidth): number {
    const value = this.clint.read(offset, width); // checks the access
    const hart = offset >> 2;
    if (offset < CLINT_MSIP_END && hart < this.harts) return this.lines.irqLine(hart, InterruptBit.MachineSoftware) ? 1 : 0;
    return value;
  }

  write(offset: number, width: AccessWidth, value: number): void {
    this.clint.write(offset, width, value);
  }
}

/** The vCPU's physical bus: the CLINT here, everything else through the mailbox. */
class VcpuBus implements MmioBus {
  constructor(private readonly clintWindow: BusWindow, private readonly clint: DeviceRegisters, private readonly devices: MmioBus) {}

  read(address: number, width: AccessWidth): number {
    const offset = address - this.clintWindow.base;
    return offset >= 0 && offset < this.clintWindow.size ? this.clint.read(offset, width) : this.devices.read(address, width);
  }

  write(address: number, width: AccessWidth, value: number): void {
    const offset = address - this.clintWindow.base;
    if (offset >= 0 && offset < this.clintWindow.size) this.clint.write(offset, width, value);
    else this.devices.write(address, width, value);
  }
}

function runHart(cpu: Cpu, hart: number, control: MachineControl, clock: GuestClock): void {
  let busyMs = 0;
  for (;;) {
    const seen = control.wakeSeen(hart); // before looking: a ring after this ends the sleep below
    if (control.stopReason() !== StopReason.Running) return;
    if (control.parkRequested()) {
      control.park(hart);
      continue;
    }
    const began = performance.now();
    const exit = cpu.run(hart, BATCH);
    busyMs += performance.now() - began;
    control.setBusyMs(hart, busyMs);
    if (exit === CpuExit.Idle) {
      control.sleepHart(hart, seen, clock.nsUntil(cpu.nextTimerTicks(hart)) / 1e6);
    }
  }
}

const data = workerData as VcpuData;
const control = new MachineControl(data.control);
try {
  // The owner starts this thread with the device thread and sends the board once it is built.
  const board = await new Promise<VcpuBoard>((resolve) => parentPort!.once('message', resolve));
  const lines = new SharedHartLines(board.memory, data.harts);
  const clock = new GuestClock(board.memory);
  const clint = new SharedMsipClint(new Clint(data.harts, clock, new WakingHartLines(lines, control)), lines, data.harts);
  const bus = new VcpuBus(board.clint, clint, new MailboxBus(data.mailboxes, data.hart, control));
  const cpu = new Cpu(board.module, board.memory, { ramBytes: data.ramBytes, harts: data.harts, bus });
  control.hartReady();
  control.waitForGo(data.hart);
  runHart(cpu, data.hart, control, clock);
} catch (err) {
  const error = { ...serializeError(err), message: `hart ${data.hart}: ${errorMessage(err)}` };
  parentPort!.postMessage({ type: 'failed', error } satisfies VcpuFailure);
  control.requestStop(StopReason.Ended);
}
control.hartStopped();
