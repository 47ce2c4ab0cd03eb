// Goldfish real-time clock, "google,goldfish-rtc" (Android emulator's goldfish RTC as QEMU's
// hw/rtc/goldfish_rtc.c models it; Linux's drivers/rtc/rtc-goldfish.c drives it). The time is
// wall-clock nanoseconds since the Unix epoch.
//
//   0x00 TIME_LOW         read: low half of the time, and latches the high half; write: sets it
//   0x04 TIME_HIGH        read: the high half latched by the last TIME_LOW read; write: sets it
//   0x08 ALARM_LOW        low half of the alarm time; writing it arms the alarm
//   0x0c ALARM_HIGH       high half of the alarm time (written first)
//   0x10 IRQ_ENABLED      bit 0: the alarm interrupt reaches the line
//   0x14 CLEAR_ALARM      write: disarms the alarm
//   0x18 ALARM_STATUS     1 while the alarm is armed
//   0x1c CLEAR_INTERRUPT  write: acknowledges the interrupt
//
// Time = the host's wall clock when the guest first looks (in guest time: the guest's boot)
// plus guest time elapsed since, so time the guest spent paused or saved is not a jump; a
// restored guest's clock continues where it stopped. The alarm is checked in poll().
import type { AccessWidth, Device, DeviceState, IrqLine } from './device.ts';
import type { GuestClock } from './clock.ts';
import { TIMEBASE_HZ } from './clock.ts';
import { StateReader, u64State } from './state.ts';
import { half, withHalf } from './u64.ts';
import { IrqOutput } from './irq-output.ts';

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;

const NS_PER_TICK = BigInt(1_000_000_000 / TIMEBASE_HZ);
const U64_MASK = (1n << 64n) - 1n;

export const hostWallNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

export class GoldfishRtc implements Device {
  readonly kind = 'goldfish-rtc';
  /** RTC time minus guest time, in ns modulo 2^64; null until first needed after reset. */
  private offsetNs: bigint | null = null;
  private timeHighLatch = 0;
  private alarmNs = 0n;
  private alarmArmed = false;
  private irqEnabled = false;
  private irqPending = false;
  private readonly irq: IrqOutput;

  constructor(
    irqLine: IrqLine,
    private readonly clock: Pick<GuestClock, 'now'>,
    private readonly wallNowNs: () => bigint = hostWallNs,
  ) {
    this.irq = new IrqOutput(irqLine);
  }

  reset(): void {
    this.offsetNs = null;
    this.timeHighLatch = 0;
    this.alarmNs = 0n;
    this.alarmArmed = false;
    this.irqEnabled = false;
    this.irqPending = false;
    this.updateIrq();
  }

  private guestNs(): bigint {
    return this.clock.now() * NS_PER_TICK;
  }

  /** The RTC's current time in ns since the epoch. */
  private nowNs(): bigint {
    this.offsetNs ??= (this.wallNowNs() - this.guestNs()) & U64_MASK;
    return (this.guestNs() + this.offsetNs) & U64_MASK;
  }

  read(offset: number, _width: AccessWidth): number {
    switch (offset) {
      case TIME_LOW: {
        const now = this.nowNs();
        this.timeHighLatch = half(now, true);
        return half(now, false);
      }
      case TIME_HIGH: return this.timeHighLatch;
      case ALARM_LOW: return half(this.alarmNs, false);
      case ALARM_HIGH: return half(this.alarmNs, true);
      case IRQ_ENABLED: return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS: return this.alarmArmed ? 1 : 0;
      default: return 0;
    }
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    switch (offset) {
      case TIME_LOW:
      case TIME_HIGH:
        this.offsetNs = (withHalf(this.nowNs(), offset === TIME_HIGH, value) - this.guestNs()) & U64_MASK;
        break;
      case ALARM_LOW:
        this.alarmNs = withHalf(this.alarmNs, false, value);
        this.alarmArmed = true;
        this.checkAlarm();
        break;
      case ALARM_HIGH:
        this.alarmNs = withHalf(this.alarmNs, true, value);
        break;
      case IRQ_ENABLED:
        this.irqEnabled = (value & 1) !== 0;
        break;
      case CLEAR_ALARM:
        this.alarmArmed = false;
        break;
      case CLEAR_INTERRUPT:
        this.irqPending = false;
        break;
      default:
        return;
    }
    this.updateIrq();
  }

  poll(): void {
    this.checkAlarm();
    this.updateIrq();
  }

  /** An armed alarm whose time has come fires: it disarms and raises the interrupt. */
  private checkAlarm(): void {
    if (this.alarmArmed && this.alarmNs <= this.nowNs()) {
      this.alarmArmed = false;
      this.irqPending = true;
    }
  }

  private updateIrq(force = false): void {
    this.irq.set(this.irqEnabled && this.irqPending, force);
  }

  saveState(): DeviceState {
    return {
      version: 1,
      rtcMinusGuestNs: this.offsetNs === null ? null : u64State(this.offsetNs),
      timeHighLatch: this.timeHighLatch,
      alarmNs: u64State(this.alarmNs),
      alarmArmed: this.alarmArmed,
      irqEnabled: this.irqEnabled,
      irqPending: this.irqPending,
    };
  }

  loadState(state: DeviceState): void {
    const s = StateReader.open(state, this.kind, 1);
    this.offsetNs = s.u64OrNull('rtcMinusGuestNs');
    this.timeHighLatch = s.uint('timeHighLatch');
    this.alarmNs = s.u64('alarmNs');
    this.alarmArmed = s.bool('alarmArmed');
    this.irqEnabled = s.bool('irqEnabled');
    this.irqPending = s.bool('irqPending');
    this.updateIrq(true);
  }
}
