// The 16550A's registers and interrupts as the PC16550D datasheet (and Linux's 8250 driver)
// expect them: divisor latch, THR-empty interrupt on enable, FIFO trigger levels, character
// timeout, loopback, overrun, and input that never gets lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ns16550a } from '../../../engine/devices/uart-ns16550a.ts';
import { TestConsole, recordingIrq, throughJson } from './support.ts';

const RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function uart() {
  const console = new TestConsole();
  const irq = recordingIrq();
  const device = new Ns16550a(console, irq.line);
  device.reset();
  const reg = (offset: number): number => device.read(offset, 1);
  const set = (offset: number, value: number): void => device.write(offset, 1, value);
  const sendLoopback = (text: string): void => {
    for (const byte of new TextEncoder().encode(text)) set(THR, byte);
  };
  const drain = (): string => {
    const bytes: number[] = [];
    while (reg(LSR) & 0x01) bytes.push(reg(RBR));
    return String.fromCharCode(...bytes);
  };
  return { device, console, irq, reg, set, sendLoopback, drain };
}

test('reset state: no interrupt, transmitter empty, modem lines up', () => {
  const { reg, irq } = uart();
  assert.equal(reg(IIR), 0x01);
  assert.equal(reg(LSR), 0x60);
  assert.equal(reg(MSR), 0xb0);
  assert.equal(irq.level, false);
});

test('THR bytes reach the console; SCR keeps a byte', () => {
  const { console, set, reg } = uart();
  for (const c of 'ok\n') set(THR, c.charCodeAt(0));
  assert.equal(console.take(), 'ok\n');
  set(SCR, 0xa5);
  assert.equal(reg(SCR), 0xa5);
});

test('DLAB switches offsets 0 and 1 to the divisor latch', () => {
  const { console, set, reg } = uart();
  set(IER, 0x05);
  set(LCR, 0x83);
  set(DLL, 0x01);
  set(DLM, 0x02);
  assert.equal(reg(DLL), 0x01);
  assert.equal(reg(DLM), 0x02);
  assert.equal(console.take(), '', 'a DLL write is not a transmitted byte');
  set(LCR, 0x03);
  assert.equal(reg(IER), 0x05, 'IER untouched by the DLM write');
  assert.equal(reg(LCR), 0x03);
});

test('enabling the THR-empty interrupt raises it at once; reading IIR acknowledges it', () => {
  const { set, reg, irq } = uart();
  set(IER, 0x02);
  assert.equal(irq.level, true);
  assert.equal(reg(IIR), 0x02);
  assert.equal(irq.level, false);
  assert.equal(reg(IIR), 0x01);
  set(THR, 0x41);
  assert.equal(irq.level, true, 'the holding register is empty again after a write');
  set(IER, 0x00);
  assert.equal(irq.level, false);
});

test('FIFO mode shows in IIR bits 7..6; received data interrupts at the trigger level', () => {
  const { set, reg, irq, sendLoopback, drain } = uart();
  set(FCR, 0x87); // enable, clear both, trigger level 8
  assert.equal(reg(IIR), 0xc1);
  set(MCR, 0x10);
  set(IER, 0x01);
  sendLoopback('1234567');
  assert.equal(irq.level, false, '7 bytes are below the trigger level of 8');
  assert.equal(reg(LSR) & 0x01, 0x01);
  sendLoopback('8');
  assert.equal(irq.level, true);
  assert.equal(reg(IIR), 0xc4);
  assert.equal(drain(), '12345678');
  assert.equal(irq.level, false);
  assert.equal(reg(IIR), 0xc1);
});

test('bytes below the trigger level raise the character timeout at the next poll', () => {
  const { device, set, reg, irq, sendLoopback, drain } = uart();
  set(FCR, 0xc1); // trigger level 14
  set(MCR, 0x10);
  set(IER, 0x01);
  sendLoopback('hi');
  assert.equal(irq.level, false);
  device.poll();
  assert.equal(irq.level, true);
  assert.equal(reg(IIR), 0xcc);
  assert.equal(drain(), 'hi');
  assert.equal(irq.level, false);
});

test('without FIFOs one received byte raises received-data-available', () => {
  const { set, reg, irq } = uart();
  set(MCR, 0x10);
  set(IER, 0x01);
  set(THR, 0x5a);
  assert.equal(irq.level, true);
  assert.equal(reg(IIR), 0x04);
  assert.equal(reg(RBR), 0x5a);
  assert.equal(irq.level, false);
});

test('a seventeenth byte overruns the FIFO: OE set, line status interrupt first, cleared by reading LSR', () => {
  const { set, reg, irq, sendLoopback, drain } = uart();
  set(FCR, 0x01);
  set(MCR, 0x10);
  set(IER, 0x07);
  reg(IIR); // acknowledge THR empty
  sendLoopback('abcdefghijklmnopq');
  assert.equal(irq.level, true);
  assert.equal(reg(IIR), 0xc6, 'receiver line status outranks the other interrupts');
  assert.equal(reg(LSR) & 0x02, 0x02);
  assert.equal(reg(LSR) & 0x02, 0, 'reading LSR clears OE');
  assert.equal(reg(IIR), 0xc4);
  assert.equal(drain(), 'abcdefghijklmnop', 'the FIFO keeps the first 16 bytes');
});

test('loopback wires the modem outputs to MSR and keeps bytes off the console', () => {
  const { console, set, reg } = uart();
  set(MCR, 0x10 | 0x0f);
  assert.equal(reg(MSR), 0xf0);
  set(MCR, 0x10 | 0x01 | 0x08); // DTR → DSR, OUT2 → DCD
  assert.equal(reg(MSR), 0xa0);
  set(THR, 0x21);
  assert.equal(console.take(), '');
  assert.equal(reg(RBR), 0x21);
});

test('typed input waits for room in the FIFO: nothing is lost', () => {
  const { device, console, set, drain } = uart();
  set(FCR, 0x01);
  console.type('0123456789abcdefghij');
  device.poll();
  assert.equal(drain(), '0123456789abcdef');
  device.poll();
  assert.equal(drain(), 'ghij');
  set(FCR, 0x00);
  console.type('xyz');
  let received = '';
  for (let i = 0; i < 3; i++) {
    device.poll();
    received += drain();
  }
  assert.equal(received, 'xyz', 'one byte per poll without FIFOs');
});

test('save → reset → load: configuration, pending interrupt and received bytes carry on', () => {
  const a = uart();
  a.set(FCR, 0x41); // trigger level 4
  a.set(IER, 0x01);
  a.set(SCR, 0x77);
  a.console.type('hello world, this is long');
  a.device.poll();
  assert.equal(a.irq.level, true);
  const saved = throughJson(a.device.saveState());

  a.device.reset();
  assert.equal(a.irq.level, false);
  assert.equal(a.reg(LSR) & 0x01, 0);

  a.device.loadState(saved);
  assert.equal(a.irq.level, true);
  assert.equal(a.reg(IIR), 0xc4);
  assert.equal(a.reg(SCR), 0x77);
  assert.equal(a.drain(), 'hello world, thi');
  a.device.poll();
  assert.equal(a.drain(), 's is long', 'input held back at save time arrives after restore');
  a.set(THR, 0x2e);
  assert.equal(a.console.take(), '.');
});

test('quiesce before a save: typed input the UART has not polled yet is saved and received after the load', () => {
  const a = uart();
  a.set(FCR, 0x01);
  a.console.type('typed while ');
  a.console.type('paused');
  a.device.quiesce();
  assert.equal(a.console.read(), null, 'taken from the back-end');
  const saved = throughJson(a.device.saveState());
  const b = uart();
  b.device.loadState(saved);
  b.device.poll();
  let received = b.drain();
  b.device.poll();
  received += b.drain();
  assert.equal(received, 'typed while paused');
});

test('a state with a mistyped field is refused with its name', () => {
  const { device } = uart();
  const state = { ...device.saveState(), lcr: 'x' };
  assert.throws(() => device.loadState(state), /ns16550a: saved field "lcr"/);
});
