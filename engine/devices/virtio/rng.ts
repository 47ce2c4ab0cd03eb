// virtio-rng (entropy device), device ID 4 (virtio 1.2, §5.4): one queue, requestq, whose
// device-writable buffers the device fills with random bytes (crypto.getRandomValues: the
// host's CSPRNG). No features, no configuration space. Linux's virtio-rng feeds hwrng with it.
import type { DeviceState } from '../device.ts';
import { StateReader } from '../state.ts';
import { VirtioDeviceId, type VirtioDevice, type VirtioQueues } from './virtio-device.ts';

const REQUESTQ = 0;
const QUEUE_SIZE = 64;
/** Bytes given per request at most (one getRandomValues call); the used length says how many. */
const MAX_BYTES_PER_REQUEST = 65536;

export class VirtioRng implements VirtioDevice {
  readonly kind = 'virtio-rng';
  readonly deviceId = VirtioDeviceId.Entropy;
  readonly features = 0n;
  readonly queueSizes = [QUEUE_SIZE];
  readonly configSize = 0;

  readConfig(): number {
    return 0;
  }

  writeConfig(): void {}

  onNotify(queue: number, queues: VirtioQueues): void {
    const requestq = queue === REQUESTQ ? queues.queue(REQUESTQ) : null;
    if (!requestq) return;
    let chain;
    while ((chain = requestq.pop())) {
      const random = crypto.getRandomValues(new Uint8Array(Math.min(chain.writableLength, MAX_BYTES_PER_REQUEST)));
      requestq.push(chain.head, chain.write(random));
    }
  }

  reset(): void {}

  saveState(): DeviceState {
    return { version: 1 };
  }

  loadState(state: DeviceState): void {
    StateReader.open(state, this.kind, 1);
  }
}
