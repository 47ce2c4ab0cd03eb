// SiFive test finisher, "sifive,test0" (QEMU's hw/misc/sifive_test.c; Linux reaches it through
// syscon-poweroff and syscon-reboot, OpenSBI through its sifive,test0 reset driver).
//
//   0x0  write: bits 15..0 a command, bits 31..16 an exit code
//          0x5555 PASS  → power off with status 0
//          0x3333 FAIL  → power off with status = the code
//          0x7777 RESET → reset the machine
//        read: 0
//
// 2- and 4-byte accesses only (as QEMU); any other command is ignored.
import { BusError, type AccessWidth, type Device, type DeviceState } from './device.ts';
import { StateReader } from './state.ts';

const FINISHER_FAIL = 0x3333;
const FINISHER_PASS = 0x5555;
const FINISHER_RESET = 0x7777;

export interface MachineEvents {
  powerOff(status: number): void;
  reset(): void;
}

export class SifiveTest implements Device {
  readonly kind = 'sifive-test';

  constructor(private readonly events: MachineEvents) {}

  read(offset: number, width: AccessWidth): number {
    this.checkWidth(offset, width);
    return 0;
  }

  write(offset: number, width: AccessWidth, value: number): void {
    this.checkWidth(offset, width);
    if (offset !== 0) return;
    const code = (value >>> 16) & 0xffff;
    switch (value & 0xffff) {
      case FINISHER_PASS: this.events.powerOff(0); break;
      case FINISHER_FAIL: this.events.powerOff(code); break;
      case FINISHER_RESET: this.events.reset(); break;
      default: break;
    }
  }

  private checkWidth(offset: number, width: AccessWidth): void {
    if (width === 1) throw new BusError(`sifive-test: 1-byte access at offset 0x${offset.toString(16)}`);
  }

  reset(): void {}

  saveState(): DeviceState {
    return { version: 1 };
  }

  loadState(state: DeviceState): void {
    StateReader.open(state, this.kind, 1);
  }
}
