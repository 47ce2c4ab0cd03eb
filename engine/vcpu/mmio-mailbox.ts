// The MMIO doorbell between a vCPU thread and the device thread: one mailbox per hart in a
// SharedArrayBuffer. The vCPU writes the access, publishes a new request sequence number, rings
// the device bell and waits on its mailbox; the device thread performs the access on the board's
// bus, writes the answer and publishes the same sequence number as the response. No event loop
// is involved on either side.
//
//   per hart, 64 bytes:  +0 request seq (vCPU)  +4 response seq (device)  +8 op  +12 width
//                        +16 value (write value / read result)  +20 status  +24 address (f64)
import { BusError, type AccessWidth, type MmioBus } from '../devices/device.ts';
import { MAX_HARTS } from '../cpu/layout.ts';
import type { MachineControl } from './control.ts';

const MAILBOX_BYTES = 64;
const WORDS = MAILBOX_BYTES / 4;
const REQUEST = 0;
const RESPONSE = 1;
const OP = 2;
const WIDTH = 3;
const VALUE = 4;
const STATUS = 5;
const ADDRESS_F64 = 3; // in f64 units: byte 24

const OP_READ = 0;
const OP_WRITE = 1;
const STATUS_OK = 0;
const STATUS_BUS_ERROR = 1;

/**
 * How long a vCPU spins on its mailbox before it sleeps: most answers take a few microseconds
 * (a futex sleep and wake-up costs more than that), a slow one (a disk request) should not burn
 * a host core.
 */
const SPIN_MS = 0.02;
const SPIN_CHECK_EVERY = 64;

export function createMailboxes(): SharedArrayBuffer {
  return new SharedArrayBuffer(MAILBOX_BYTES * MAX_HARTS);
}

/** A vCPU's side: the bus its core sees for every device not served inside the vCPU thread. */
export class MailboxBus implements MmioBus {
  private readonly words: Int32Array;
  private readonly address: Float64Array;

  constructor(buffer: SharedArrayBuffer, hart: number, private readonly control: MachineControl) {
    this.words = new Int32Array(buffer, hart * MAILBOX_BYTES, WORDS);
    this.address = new Float64Array(buffer, hart * MAILBOX_BYTES, WORDS / 2);
  }

  read(address: number, width: AccessWidth): number {
    return this.call(OP_READ, address, width, 0) >>> 0;
  }

  write(address: number, width: AccessWidth, value: number): void {
    this.call(OP_WRITE, address, width, value);
  }

  private call(op: number, address: number, width: AccessWidth, value: number): number {
    const words = this.words;
    words[OP] = op;
    words[WIDTH] = width;
    words[VALUE] = value;
    this.address[ADDRESS_F64] = address;
    const seq = (words[REQUEST]! + 1) | 0;
    Atomics.store(words, REQUEST, seq); // publishes the fields above (release)
    this.control.ringDevice();
    this.awaitResponse(seq);
    if (words[STATUS] !== STATUS_OK) throw new BusError(`no device answers at physical address 0x${address.toString(16)} (${width}-byte access)`);
    return words[VALUE]!;
  }

  private awaitResponse(seq: number): void {
    const words = this.words;
    const start = performance.now();
    for (let spins = 1; Atomics.load(words, RESPONSE) !== seq; spins++) {
      if (spins % SPIN_CHECK_EVERY === 0 && performance.now() - start > SPIN_MS) {
        while (Atomics.load(words, RESPONSE) !== seq) Atomics.wait(words, RESPONSE, (seq - 1) | 0);
        return;
      }
    }
  }
}

/** The device thread's side: answers every waiting request from the board's bus. */
export class MailboxServer {
  private readonly mailboxes: { words: Int32Array; address: Float64Array }[];

  constructor(buffer: SharedArrayBuffer, harts: number, private readonly bus: MmioBus) {
    this.mailboxes = Array.from({ length: harts }, (_, hart) => ({
      words: new Int32Array(buffer, hart * MAILBOX_BYTES, WORDS),
      address: new Float64Array(buffer, hart * MAILBOX_BYTES, WORDS / 2),
    }));
  }

  /**
   * Serves the requests waiting now; returns how many. A BusError is the guest's access fault;
   * any other error is the host's and propagates (after the request is answered as a fault, so
   * that the vCPU is not left waiting).
   */
  serve(): number {
    let served = 0;
    for (const { words, address } of this.mailboxes) {
      const seq = Atomics.load(words, REQUEST); // acquire: the fields are complete
      if (seq === words[RESPONSE]) continue;
      served++;
      let failure: unknown = null;
      try {
        const width = words[WIDTH] as AccessWidth;
        if (words[OP] === OP_READ) words[VALUE] = this.bus.read(address[ADDRESS_F64]!, width);
        else this.bus.write(address[ADDRESS_F64]!, width, words[VALUE]! >>> 0);
        words[STATUS] = STATUS_OK;
      } catch (err) {
        words[STATUS] = STATUS_BUS_ERROR;
        if (!(err instanceof BusError)) failure = err;
      }
      Atomics.store(words, RESPONSE, seq);
      Atomics.notify(words, RESPONSE);
      if (failure) throw failure;
    }
    return served;
  }
}
