// virtio-console, device ID 3 (virtio 1.2, §5.3), with one port and no optional features:
// Linux's virtio_console makes it hvc0.
//
//   queues: 0 receiveq (port 0: host → guest), 1 transmitq (port 0: guest → host)
//   config (§5.3.4): 0x0 cols u16, 0x2 rows u16, 0x4 max_nr_ports u32, 0x8 emerg_wr u32 —
//   all 0 and unused, as VIRTIO_CONSOLE_F_SIZE, _MULTIPORT and _EMERG_WRITE are not offered.
//
// Output goes to the CharBackend as the guest transmits, streamed from guest RAM in pieces: at
// most MAX_TRANSMIT_BYTES per device call and no more than the back-end has room for (CharBackend
// room). A request not sent in full stays first in the transmitq (Virtqueue.peek) and is
// continued at the next poll, so whatever lengths the guest's descriptors claim, the host holds
// no more than the back-end's buffer. Input is taken from the back-end only when a receive
// buffer is waiting; bytes that do not fit stay held for the next buffer.
import type { AccessWidth, DeviceState } from '../device.ts';
import { withWaitingInput, type CharBackend } from '../char.ts';
import { StateReader } from '../state.ts';
import { readConfigBytes, VirtioDeviceId, type VirtioDevice, type VirtioQueues } from './virtio-device.ts';

const RECEIVEQ = 0;
const TRANSMITQ = 1;
const QUEUE_SIZE = 128;
const CONFIG_SIZE = 12;
/** Output bytes one device call (a notify or a poll) hands to the back-end at most. */
export const MAX_TRANSMIT_BYTES = 64 * 1024;

export class VirtioConsole implements VirtioDevice {
  readonly kind = 'virtio-console';
  readonly deviceId = VirtioDeviceId.Console;
  readonly features = 0n;
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly configSize = CONFIG_SIZE;
  private readonly config = new Uint8Array(CONFIG_SIZE);
  /** Bytes taken from the back-end that no receive buffer has taken yet. */
  private held: Uint8Array = new Uint8Array(0);
  /** Bytes of the first transmitq request already handed to the back-end. */
  private transmitted = 0;

  constructor(private readonly backend: CharBackend) {}

  readConfig(offset: number, width: AccessWidth): number {
    return readConfigBytes(this.config, offset, width);
  }

  writeConfig(): void {} // nothing writable without VIRTIO_CONSOLE_F_EMERG_WRITE

  onNotify(queue: number, queues: VirtioQueues): void {
    if (queue === TRANSMITQ) this.transmit(queues);
    else if (queue === RECEIVEQ) this.receive(queues);
  }

  poll(queues: VirtioQueues): void {
    this.transmit(queues);
    this.receive(queues);
  }

  /** Sends transmitq requests on, in order, until the budget or the back-end's room is spent. */
  private transmit(queues: VirtioQueues): void {
    const transmitq = queues.queue(TRANSMITQ);
    if (!transmitq) return;
    let budget = MAX_TRANSMIT_BYTES;
    let chain;
    while ((chain = transmitq.peek())) {
      while (this.transmitted < chain.readableLength) {
        const piece = Math.min(budget, this.backend.room?.() ?? budget, chain.readableLength - this.transmitted);
        if (piece <= 0) return; // the rest at the next poll
        for (const view of chain.readableRange(this.transmitted, piece)) this.backend.write(view);
        this.transmitted += piece;
        budget -= piece;
      }
      transmitq.take(chain);
      transmitq.push(chain.head, 0);
      this.transmitted = 0;
    }
  }

  /** Fills waiting receive buffers with typed input. */
  private receive(queues: VirtioQueues): void {
    const receiveq = queues.queue(RECEIVEQ);
    if (!receiveq) return;
    for (;;) {
      if (this.held.length === 0) this.held = this.backend.read()?.slice() ?? this.held;
      if (this.held.length === 0) return;
      const chain = receiveq.pop();
      if (!chain) return;
      const written = chain.write(this.held);
      receiveq.push(chain.head, written);
      this.held = this.held.subarray(written);
    }
  }

  /** Input still in the back-end becomes held input: a saved state carries it to the guest. */
  quiesce(): void {
    this.held = withWaitingInput(this.held, this.backend);
  }

  /** Drops the request in progress; held input is the user's typing, not device state: it survives. */
  reset(): void {
    this.transmitted = 0;
  }

  saveState(): DeviceState {
    return { version: 2, heldInput: [...this.held], transmitted: this.transmitted };
  }

  /** Version 1 (before requests were streamed) had no request in progress. */
  loadState(state: DeviceState): void {
    const s = StateReader.open(state, this.kind, 2, 1);
    this.held = s.bytes('heldInput', Number.MAX_SAFE_INTEGER);
    this.transmitted = s.version === 1 ? 0 : s.uint('transmitted', Number.MAX_SAFE_INTEGER);
  }
}
