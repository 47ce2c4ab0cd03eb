// A whole machine boots real firmware: Debian's OpenSBI fw_dynamic.bin (from qemu-system-data)
// reads our device tree and fw_dynamic_info, prints its banner on the UART, enters a small
// S-mode payload at next_addr, and powers the machine off through syscon-poweroff when the
// payload asks SBI to. The same payload under qemu-system-riscv64 -M virt prints the same line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MachineHost } from '../../../engine/vcpu/machine-host.ts';

const FIRMWARE = '/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin';
// OpenSBI's console turns each \n into \r\n.
const PAYLOAD_LINE = 'hangar payload: S-mode entry, a1 is a device tree\r\n';

function buildPayload(): string {
  const out = join(mkdtempSync(join(tmpdir(), 'hangar-payload-')), 'payload.elf');
  const source = fileURLToPath(new URL('./fixtures/payload.S', import.meta.url));
  // -N: one segment without the ELF header in it, so the entry is the segment's start.
  execFileSync('riscv64-linux-gnu-gcc', ['-nostdlib', '-static', '-march=rv64imac', '-mabi=lp64', '-Wl,-N',
    '-Wl,-Ttext=0x80200000', '-Wl,--build-id=none', '-Wl,--no-warn-rwx-segments', '-o', out, source]);
  return out;
}

async function boot(harts: number, kernelPath: string) {
  let text = '';
  const machine = new MachineHost({ harts, ramBytes: 64 * 1024 * 1024, firmwarePath: FIRMWARE, kernelPath, bootargs: '' });
  machine.on('console', (bytes) => { text += Buffer.from(bytes).toString('latin1'); });
  const exit = await machine.exited;
  return { exit, text };
}

for (const harts of [1, 2]) {
  test(`OpenSBI boots on ${harts} hart(s), enters the payload and powers off`, async () => {
    const { exit, text } = await boot(harts, buildPayload());
    assert.match(text, /OpenSBI v\d/, text);
    assert.match(text, /Platform Name\s+: riscv-virtio,qemu/);
    assert.match(text, new RegExp(`Platform HART Count\\s+: ${harts}\\b`));
    assert.match(text, /Platform Shutdown Device\s+: sifive_test/);
    assert.match(text, /Domain0 Next Address\s+: 0x0*80200000/);
    assert.match(text, /Domain0 Next Arg1\s+: 0x0*83e00000/); // the device tree: top of 64 MiB, 2 MiB aligned
    assert.ok(text.endsWith(PAYLOAD_LINE), text.slice(-200));
    assert.equal(exit.reason, 'poweroff');
    assert.equal(exit.status, 0);
  });
}
