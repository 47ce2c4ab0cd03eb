// The device thread of a machine: builds the board (and reads a saved state into it), boots or
// restores it once every vCPU thread has its core, then serves the vCPUs' MMIO requests
// (mmio-mailbox.ts), polls the devices that take host input, sends console and agent output to
// the owner, and carries out park (pause, reset) and stop. While the machine runs it never
// yields to its event loop: it sleeps on the device bell, which vCPUs and the owner ring. Parked
// for the owner's pause it waits with the event loop free, and carries out the owner's commands
// (DeviceCommand: save the state, replace the disks).
import { parentPort, workerData } from 'node:worker_threads';
import { Machine } from '../machine/machine.ts';
import { BufferedConsole } from './buffered-console.ts';
import { ByteRing } from './byte-ring.ts';
import { MachineControl, ParkReason, StopReason } from './control.ts';
import { MailboxServer } from './mmio-mailbox.ts';
import { DeviceNetEnd } from './frame-ring.ts';
import { errorMessage, HangarError, serializeError } from '../common/errors.ts';
import type { DeviceCommand, DeviceData, DeviceMessage, MachineExit } from './protocol.ts';

/** Devices are polled at least this often while vCPUs keep the thread busy with MMIO. */
const POLL_MS = 1;
/**
 * How long the thread sleeps when nothing rings it. Devices keep timers only the polls see (the
 * UART's receive timeout, the RTC alarm): while the guest or the owner was active in the last
 * ACTIVE_MS they are polled every ACTIVE_SLEEP_MS (typed input reaches the guest at once), after
 * that every IDLE_SLEEP_MS, so that an idle machine costs the host next to nothing (an RTC alarm
 * is then up to that late).
 */
const ACTIVE_MS = 200;
const ACTIVE_SLEEP_MS = 2;
const IDLE_SLEEP_MS = 100;
/** After serving a request, more usually follow at once (a driver's register sequence): spin this long. */
const SPIN_MS = 0.05;
/** The owner's commands, carried out only while the device thread is parked for a pause. */
class Commands {
  private parked = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly machine: Machine, private readonly consoleInput: { append(bytes: Uint8Array): void }) {}

  readonly receive = (command: DeviceCommand): void => {
    if (!this.parked) {
      post({ type: 'done', id: command.id, error: serializeError(new HangarError('invalid-state', 'machine: it is not paused')) });
      return;
    }
    this.running = this.running.then(async () => {
      try {
        if (command.type === 'save') {
          this.consoleInput.append(command.consoleInput);
          post({ type: 'done', id: command.id, result: await this.machine.saveState(command.path, command.vm, command.ticks) });
        } else {
          this.machine.replaceDisks(command.disks);
          post({ type: 'done', id: command.id });
        }
      } catch (err) {
        post({ type: 'done', id: command.id, error: serializeError(err) });
      }
    });
  };

  /** Parks the device thread for the owner's pause; returns once released and no command runs. */
  async park(control: MachineControl): Promise<void> {
    this.parked = true;
    await control.parkDevice();
    this.parked = false;
    await this.running;
  }
}

async function serveMachine(machine: Machine, control: MachineControl, server: MailboxServer, consoles: BufferedConsole[], commands: Commands, harts: number): Promise<MachineExit> {
  let exit: MachineExit | null = null;
  while (control.readyHarts() < harts) {
    const bell = control.deviceBell();
    if (control.stopReason() !== StopReason.Running) return { reason: 'quit', status: 0 };
    if (control.readyHarts() < harts) control.sleepDevice(bell, Infinity);
  }
  machine.start();
  control.go();
  post({ type: 'running' });
  let resetting = false;
  let lastPoll = 0;
  let lastServed = 0;
  let lastActive = 0;
  for (;;) {
    const bell = control.deviceBell();
    let served = 0;
    try {
      served = server.serve();
      const now = performance.now();
      if (served > 0) lastServed = now;
      if (served === 0 || now - lastPoll >= POLL_MS) {
        machine.poll();
        lastPoll = now;
      }
      const request = machine.takeRequest();
      if (request?.type === 'poweroff') {
        exit ??= { reason: 'poweroff', status: request.status };
        control.requestStop(StopReason.Ended);
      } else if (request?.type === 'reset' && !resetting) {
        resetting = true;
        control.requestPark(ParkReason.Reset);
      }
      for (const console of consoles) console.flushIfDue(now);
      if (control.stopReason() !== StopReason.Running) {
        // Requests are served until every vCPU has left its loop: none is left waiting.
        if (control.stoppedHarts() === harts) break;
      } else if (resetting && control.parkedHarts() === harts) {
        machine.boot();
        resetting = false;
        control.releasePark(ParkReason.Reset);
        continue;
      } else if (!resetting && control.parkRequested(ParkReason.Owner) && control.parkedHarts() === harts) {
        for (const console of consoles) console.flush();
        await commands.park(control);
        continue;
      }
    } catch (err) {
      // A host bug in a device: the machine stops, and says why.
      exit ??= { reason: 'error', status: 1, message: errorMessage(err), error: serializeError(err) };
      control.requestStop(StopReason.Ended);
      continue;
    }
    if (served > 0) continue;
    if (performance.now() - lastServed < SPIN_MS) {
      while (control.deviceBell() === bell && performance.now() - lastServed < SPIN_MS);
      continue;
    }
    for (const console of consoles) console.flush();
    const asleep = performance.now();
    control.sleepDevice(bell, asleep - Math.max(lastActive, lastServed) < ACTIVE_MS ? ACTIVE_SLEEP_MS : IDLE_SLEEP_MS);
    if (control.deviceBell() !== bell) lastActive = performance.now(); // rung, not timed out
  }
  for (const console of consoles) console.flush();
  const instructions = Number(machine.instructions());
  if (exit) return { ...exit, instructions };
  return control.stopReason() === StopReason.Quit
    ? { reason: 'quit', status: 0, instructions }
    : { reason: 'error', status: 1, message: 'a vCPU thread failed', instructions };
}

const { config, control: controlBuffer, mailboxes, input, agentInput, nics } = workerData as DeviceData;
const control = new MachineControl(controlBuffer);
const post = (message: DeviceMessage) => parentPort!.postMessage(message);
let exit: MachineExit;
let commands: Commands | null = null;
try {
  const inputRing = new ByteRing(input);
  const agentRing = new ByteRing(agentInput);
  // Console input the owner handed over with a save follows what the ring held then, and comes
  // before what the ring gets later.
  const handedOver: Uint8Array[] = [];
  const consoleInput = {
    append(bytes: Uint8Array) {
      for (const part of [inputRing.read(), bytes]) if (part?.length) handedOver.push(part);
    },
  };
  const readConsole = () => handedOver.shift() ?? inputRing.read();
  const console = new BufferedConsole({ write: (data) => post({ type: 'console', data }), read: readConsole });
  const agent = new BufferedConsole({ write: (data) => post({ type: 'agent', data }), read: () => agentRing.read() });
  const machine = await Machine.create(config, { console, agent }, control, nics.map((link) => new DeviceNetEnd(link)));
  try {
    post({ type: 'started', memory: machine.memory, module: machine.module });
    // While the vCPU threads start: they touch no RAM and no hart state before the go.
    if (config.restoreFrom) await machine.loadSavedState(config.restoreFrom);
    commands = new Commands(machine, consoleInput);
    parentPort!.on('message', commands.receive);
    exit = await serveMachine(machine, control, new MailboxServer(mailboxes, config.harts, machine.bus), [console, agent], commands, config.harts);
  } finally {
    machine.close(); // every vCPU has stopped (or none started): no request can reach a disk
  }
} catch (err) {
  exit = { reason: 'error', status: 1, message: errorMessage(err), error: serializeError(err) };
}
if (commands) parentPort!.off('message', commands.receive); // else the port keeps the thread alive
control.requestStop(StopReason.Ended);
post({ type: 'exit', exit });
