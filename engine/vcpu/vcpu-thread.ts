// One vCPU thread: its own instance of the core over the machine's shared memory, running one
// hart. The board's vCPU-served slots (the CLINT: msip, mtimecmp, mtime, views of the harts'
// shared lines) are served here, in the thread; every other device is on the device thread,
// reached through this hart's mailbox (engine/machine/virt.ts, createVcpuBus). A hart in WFI with
// nothing pending (OpenSBI parks harts not yet started by SBI HSM that way) sleeps on its wake
// word until its next timer interrupt is due or something rings it.
import { parentPort, workerData } from 'node:worker_threads';
import { Cpu, CpuExit, SharedHartLines } from '../cpu/cpu.ts';
import { GuestClock } from '../devices/clock.ts';
import { errorMessage, serializeError } from '../common/errors.ts';
import { createVcpuBus } from '../machine/virt.ts';
import { WakingHartLines } from '../machine/waking-hart-lines.ts';
import { MachineControl, StopReason } from './control.ts';
import { MailboxBus } from './mmio-mailbox.ts';
import type { VcpuBoard, VcpuData, VcpuFailure } from './protocol.ts';

/** Instructions between looks at the control block (how soon a park or stop is seen). */
const BATCH = 20_000;

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
  const clock = new GuestClock(board.memory);
  const lines = new WakingHartLines(new SharedHartLines(board.memory, data.harts), control);
  const bus = createVcpuBus({ harts: data.harts, clock, lines }, new MailboxBus(data.mailboxes, data.hart, control));
  const cpu = new Cpu(board.module, board.memory, { ramBytes: data.ramBytes, harts: data.harts, bus, jitThreshold: data.jitThreshold });
  control.hartReady();
  control.waitForGo(data.hart);
  runHart(cpu, data.hart, control, clock);
} catch (err) {
  const error = { ...serializeError(err), message: `hart ${data.hart}: ${errorMessage(err)}` };
  parentPort!.postMessage({ type: 'failed', error } satisfies VcpuFailure);
  control.requestStop(StopReason.Ended);
}
control.hartStopped();
