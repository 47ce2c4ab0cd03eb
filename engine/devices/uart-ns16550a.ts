// NS16550A UART (National Semiconductor PC16550D datasheet; behaviour as QEMU's
// hw/char/serial.c, which Linux's 8250 driver and OpenSBI's uart8250 are used against).
// One byte per register (reg-shift 0), at the board's clock of 3686400 Hz; the divisor is kept
// for the guest to read back but bytes move at once, not at the baud rate.
//
//   offset  read                       write
//   0       RBR receive buffer         THR transmit holding       (LCR.DLAB=1: DLL divisor low)
//   1       IER interrupt enable       IER                        (LCR.DLAB=1: DLM divisor high)
//   2       IIR interrupt identity     FCR FIFO control
//   3       LCR line control           LCR  (bit 7 DLAB)
//   4       MCR modem control          MCR  (bit 4 loopback)
//   5       LSR line status            -
//   6       MSR modem status           -
//   7       SCR scratch                SCR
//
// Interrupts, highest priority first (IIR bits 3..1; bit 0 set = none pending; bits 7..6 set
// while the FIFOs are enabled): receiver line status (overrun), character timeout, received
// data available, transmitter holding register empty, modem status.
import type { AccessWidth, Device, DeviceState, IrqLine } from './device.ts';
import { withWaitingInput, type CharBackend } from './char.ts';
import { StateReader } from './state.ts';
import { IrqOutput } from './irq-output.ts';

const IER_RECEIVED_DATA = 0x01;
const IER_THR_EMPTY = 0x02;
const IER_LINE_STATUS = 0x04;
const IER_MODEM_STATUS = 0x08;

const IIR_NONE = 0x01;
const IIR_MODEM_STATUS = 0x00;
const IIR_THR_EMPTY = 0x02;
const IIR_RECEIVED_DATA = 0x04;
const IIR_LINE_STATUS = 0x06;
const IIR_CHAR_TIMEOUT = 0x0c;
const IIR_FIFOS_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
const FCR_CLEAR_TX = 0x04;
/** FCR bits the register keeps: enable, DMA mode, receive trigger level. */
const FCR_KEPT = 0xc9;

const LCR_DLAB = 0x80;

const MCR_LOOPBACK = 0x10;
/** MCR's five defined bits: DTR, RTS, OUT1, OUT2, LOOP. */
const MCR_MASK = 0x1f;

const LSR_DATA_READY = 0x01;
const LSR_OVERRUN = 0x02;
const LSR_BREAK = 0x10;
const LSR_THR_EMPTY = 0x20;
const LSR_TRANSMITTER_EMPTY = 0x40;
/** Line-status conditions that raise the receiver line status interrupt. */
const LSR_ERRORS = 0x1e;

/** MSR at reset, and outside loopback: CTS, DSR and DCD asserted (a terminal is attached). */
const MSR_LINES_UP = 0xb0;
const MSR_DELTAS = 0x0f;

const FIFO_SIZE = 16;
/** Receive FIFO trigger levels, by FCR bits 7..6. */
const TRIGGER_LEVELS = [1, 4, 8, 14];

export class Ns16550a implements Device {
  readonly kind = 'ns16550a';

  private divisor = 0;
  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr = 0;
  private lsr = LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
  private msr = MSR_LINES_UP;
  private scr = 0;
  /** Received bytes not yet read through RBR (one place when the FIFOs are disabled). */
  private rx: number[] = [];
  /** The THR-empty interrupt is pending (cleared by reading IIR while it is the one shown). */
  private thrEmptyPending = false;
  /** Received data has sat below the trigger level for a while (polls stand in for 4 character times). */
  private charTimeoutPending = false;
  /** Bytes taken from the back-end that did not fit in the receive FIFO yet. */
  private held: Uint8Array = new Uint8Array(0);

  private readonly irq: IrqOutput;

  // Fields start at their reset values; the constructor drives no line (the board is still
  // being wired when devices are made).
  constructor(private readonly console: CharBackend, irqLine: IrqLine) {
    this.irq = new IrqOutput(irqLine);
  }

  reset(): void {
    this.divisor = 0;
    this.ier = 0;
    this.fcr = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.lsr = LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
    this.msr = MSR_LINES_UP;
    this.scr = 0;
    this.rx = [];
    this.thrEmptyPending = false;
    this.charTimeoutPending = false;
    this.updateIrq();
  }

  read(offset: number, _width: AccessWidth): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0: return dlab ? this.divisor & 0xff : this.readRbr();
      case 1: return dlab ? this.divisor >> 8 : this.ier;
      case 2: return this.readIir();
      case 3: return this.lcr;
      case 4: return this.mcr;
      case 5: return this.readLsr();
      case 6: return this.readMsr();
      case 7: return this.scr;
      default: return 0;
    }
  }

  write(offset: number, _width: AccessWidth, value: number): void {
    const byte = value & 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0:
        if (dlab) this.divisor = (this.divisor & 0xff00) | byte;
        else this.transmit(byte);
        break;
      case 1:
        if (dlab) this.divisor = (this.divisor & 0x00ff) | (byte << 8);
        else this.writeIer(byte);
        break;
      case 2: this.writeFcr(byte); break;
      case 3: this.lcr = byte; break;
      case 4: this.mcr = byte & MCR_MASK; break;
      case 7: this.scr = byte; break;
      default: break; // LSR and MSR are read-only
    }
  }

  /** Moves typed input into the receive FIFO; what does not fit waits for the next poll. */
  poll(): void {
    if (!(this.mcr & MCR_LOOPBACK)) {
      if (this.held.length === 0) this.held = this.console.read()?.slice() ?? this.held;
      const room = Math.max(0, Math.min(this.capacity() - this.rx.length, this.held.length));
      for (let i = 0; i < room; i++) this.receive(this.held[i]);
      this.held = this.held.subarray(room);
    }
    // Bytes left below the trigger level since the last poll are announced by the timeout.
    if (this.fifoEnabled() && this.rx.length > 0 && this.rx.length < this.triggerLevel()) {
      this.charTimeoutPending = true;
    }
    this.updateIrq();
  }

  private fifoEnabled(): boolean {
    return (this.fcr & FCR_ENABLE) !== 0;
  }

  private capacity(): number {
    return this.fifoEnabled() ? FIFO_SIZE : 1;
  }

  private triggerLevel(): number {
    return TRIGGER_LEVELS[this.fcr >> 6];
  }

  private receive(byte: number): void {
    if (this.rx.length >= this.capacity()) {
      // A full FIFO keeps its bytes (the new one is lost); a full holding register is overwritten.
      this.lsr |= LSR_OVERRUN;
      if (this.fifoEnabled()) return;
      this.rx = [];
    }
    this.rx.push(byte);
    this.lsr |= LSR_DATA_READY;
  }

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOPBACK) this.receive(byte);
    else this.console.write(Uint8Array.of(byte));
    // The byte leaves at once: the holding register is empty again, which is an interrupt.
    this.thrEmptyPending = true;
    this.updateIrq();
  }

  private readRbr(): number {
    const byte = this.rx.shift() ?? 0;
    if (this.rx.length === 0) this.lsr &= ~(LSR_DATA_READY | LSR_BREAK);
    this.charTimeoutPending = false;
    this.updateIrq();
    return byte;
  }

  private readIir(): number {
    const iir = this.interruptId() | (this.fifoEnabled() ? IIR_FIFOS_ENABLED : 0);
    // Reading IIR while it shows THR empty acknowledges that interrupt.
    if ((iir & 0x0f) === IIR_THR_EMPTY) {
      this.thrEmptyPending = false;
      this.updateIrq();
    }
    return iir;
  }

  private readLsr(): number {
    const lsr = this.lsr;
    if (lsr & (LSR_OVERRUN | LSR_BREAK)) {
      this.lsr &= ~(LSR_OVERRUN | LSR_BREAK);
      this.updateIrq();
    }
    return lsr;
  }

  private readMsr(): number {
    if (this.mcr & MCR_LOOPBACK) {
      // Loopback wires the modem outputs to the inputs: OUT2→DCD, OUT1→RI, RTS→CTS, DTR→DSR.
      return ((this.mcr & 0x0c) << 4) | ((this.mcr & 0x02) << 3) | ((this.mcr & 0x01) << 5);
    }
    const msr = this.msr;
    if (msr & MSR_DELTAS) {
      this.msr &= ~MSR_DELTAS;
      this.updateIrq();
    }
    return msr;
  }

  private writeIer(value: number): void {
    const changed = (this.ier ^ value) & 0x0f;
    this.ier = value & 0x0f;
    // Enabling the THR-empty interrupt while the transmitter is empty raises it at once; Linux's
    // 8250 driver checks this at startup and Windows relies on it (see QEMU's serial.c).
    if (changed & IER_THR_EMPTY) {
      this.thrEmptyPending = (this.ier & IER_THR_EMPTY) !== 0 && (this.lsr & LSR_THR_EMPTY) !== 0;
    }
    this.updateIrq();
  }

  private writeFcr(value: number): void {
    // Turning the FIFOs on or off empties both.
    if ((value ^ this.fcr) & FCR_ENABLE) value |= FCR_CLEAR_RX | FCR_CLEAR_TX;
    if (value & FCR_CLEAR_RX) {
      this.rx = [];
      this.lsr &= ~(LSR_DATA_READY | LSR_BREAK);
      this.charTimeoutPending = false;
    }
    if (value & FCR_CLEAR_TX) {
      this.lsr |= LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
      this.thrEmptyPending = true;
    }
    this.fcr = value & FCR_KEPT;
    this.updateIrq();
  }

  /** IIR bits 3..0: the highest-priority enabled interrupt, or IIR_NONE. */
  private interruptId(): number {
    const ier = this.ier;
    if (ier & IER_LINE_STATUS && this.lsr & LSR_ERRORS) return IIR_LINE_STATUS;
    if (ier & IER_RECEIVED_DATA && this.charTimeoutPending) return IIR_CHAR_TIMEOUT;
    if (ier & IER_RECEIVED_DATA && this.lsr & LSR_DATA_READY &&
        (!this.fifoEnabled() || this.rx.length >= this.triggerLevel())) return IIR_RECEIVED_DATA;
    if (ier & IER_THR_EMPTY && this.thrEmptyPending) return IIR_THR_EMPTY;
    if (ier & IER_MODEM_STATUS && this.msr & MSR_DELTAS) return IIR_MODEM_STATUS;
    return IIR_NONE;
  }

  private updateIrq(force = false): void {
    this.irq.set(this.interruptId() !== IIR_NONE, force);
  }

  /** Input still in the back-end becomes held input: a saved state carries it to the guest. */
  quiesce(): void {
    this.held = withWaitingInput(this.held, this.console);
  }

  saveState(): DeviceState {
    return {
      version: 1,
      divisor: this.divisor,
      ier: this.ier,
      fcr: this.fcr,
      lcr: this.lcr,
      mcr: this.mcr,
      lsr: this.lsr,
      msr: this.msr,
      scr: this.scr,
      receiveFifo: [...this.rx],
      thrEmptyPending: this.thrEmptyPending,
      charTimeoutPending: this.charTimeoutPending,
      heldInput: [...this.held],
    };
  }

  loadState(state: DeviceState): void {
    const s = StateReader.open(state, this.kind, 1);
    this.divisor = s.uint('divisor', 0xffff);
    this.ier = s.uint('ier', 0x0f);
    this.fcr = s.uint('fcr', 0xff) & FCR_KEPT;
    this.lcr = s.uint('lcr', 0xff);
    this.mcr = s.uint('mcr', MCR_MASK);
    this.lsr = s.uint('lsr', 0xff);
    this.msr = s.uint('msr', 0xff);
    this.scr = s.uint('scr', 0xff);
    this.rx = [...s.bytes('receiveFifo', FIFO_SIZE)];
    this.thrEmptyPending = s.bool('thrEmptyPending');
    this.charTimeoutPending = s.bool('charTimeoutPending');
    this.held = s.bytes('heldInput', Number.MAX_SAFE_INTEGER);
    this.updateIrq(true);
  }
}
