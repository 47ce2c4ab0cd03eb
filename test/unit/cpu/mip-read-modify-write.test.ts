// mip.SEIP is both a software-writable bit and the PLIC's line: reads see their OR, but a
// csrrs/csrrc changes only the software bit (privileged spec 3.1.9, "Machine Interrupt
// Registers"). OpenSBI sets mip.SSIP with csrs to pass an IPI on to S mode; if the external
// line was high at that moment, latching it into the software bit left S mode with an external
// interrupt no PLIC claim could clear — an interrupt storm Linux reported as a hard lockup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterruptBit } from '../../../engine/devices/device.ts';
import { CSR, TestMachine } from './support/machine.ts';

const SSIP = 1n << 1n;
const SEIP = 1n << 9n;

for (const [instruction, expectedSsip] of [['csrsi mip, 2', SSIP], ['csrci mip, 2', 0n]] as const) {
  test(`${instruction} while the SEIP line is high leaves SEIP following the line`, async () => {
    const m = await TestMachine.load(instruction);
    m.cpu.setIrqLine(0, InterruptBit.SupervisorExternal, true);
    m.runTo('done');
    assert.equal(m.csr(CSR.mip) & (SSIP | SEIP), expectedSsip | SEIP, 'the line still reads as pending');
    m.cpu.setIrqLine(0, InterruptBit.SupervisorExternal, false);
    assert.equal(m.csr(CSR.mip) & SEIP, 0n, 'SEIP went down with the line');
  });
}

test('csrs mip still sets the software SEIP bit itself when asked to', async () => {
  const m = await TestMachine.load(`li t0, ${SEIP}\ncsrs mip, t0`);
  m.runTo('done');
  assert.equal(m.csr(CSR.mip) & SEIP, SEIP);
});
