// The FDT writer, checked by decoding its blobs with dtc; and the virt tree, compared with the
// tree QEMU's own virt machine writes (qemu-system-riscv64 -M virt,dumpdtb=FILE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceTree, u64Cells } from '../../../engine/machine/fdt.ts';
import { virtDtb } from '../../../engine/machine/virt.ts';
import { decodeDtb } from './dts.ts';

test('header, blocks and every kind of value come back through dtc', () => {
  const tree = new DeviceTree();
  tree.root.prop('#address-cells', 2).prop('model', 'hangar,test');
  const target = tree.root.child('target@1000');
  target.prop('phandle', tree.phandle('target')).prop('reg', [...u64Cells(0x1_2345_6789), ...u64Cells(0x1000)]);
  const user = tree.root.child('user');
  user.prop('ref', tree.phandle('target'))
    .prop('compatible', ['vendor,one', 'vendor,two'])
    .prop('empty', true)
    .prop('bytes', Uint8Array.of(1, 2, 3))
    .prop('model', 'hangar,test'); // a property name used twice is stored once in the strings block
  const blob = tree.toBlob();

  const header = new DataView(blob.buffer, blob.byteOffset, 40);
  const word = (i: number) => header.getUint32(i * 4);
  assert.equal(word(0), 0xd00dfeed, 'magic');
  assert.equal(word(1), blob.length, 'totalsize');
  assert.equal(word(5), 17, 'version');
  assert.equal(word(6), 16, 'last_comp_version');
  assert.equal(word(4) % 8, 0, 'memory reservation block 8-aligned');
  assert.equal(word(2) % 4, 0, 'structure block 4-aligned');
  assert.equal(word(3) + word(8), blob.length, 'strings block ends the blob');
  assert.equal(word(2) + word(9), word(3), 'structure block runs up to the strings block');
  const strings = new TextDecoder().decode(blob.subarray(word(3)));
  assert.equal(strings.split('\0').filter((s) => s === 'model').length, 1);

  const { nodes } = decodeDtb(blob);
  assert.deepEqual([...nodes.keys()], ['/', '/target@1000', '/user']);
  assert.equal(nodes.get('/')!.get('model'), '"hangar,test"');
  assert.equal(nodes.get('/target@1000')!.get('reg'), '<0x01 0x23456789 0x00 0x1000>');
  assert.equal(nodes.get('/target@1000')!.get('phandle'), '<0x01>');
  const props = nodes.get('/user')!;
  assert.equal(props.get('ref'), '<0x01>');
  assert.equal(props.get('compatible'), '"vendor,one\\0vendor,two"');
  assert.equal(props.get('empty'), '');
  assert.equal(props.get('bytes'), '[01 02 03]');
  assert.throws(() => tree.root.child('user'), /duplicate node user/);
  assert.throws(() => user.prop('bad', -1), /not a u32/);
});

const MiB = 1024 * 1024;

test('the virt tree: cpus, memory, chosen and the soc devices as QEMU describes them', () => {
  const { nodes, dts } = decodeDtb(virtDtb({
    harts: 2, ramBytes: 512 * MiB, bootargs: 'console=ttyS0 root=/dev/vda',
    initrd: { start: 0x9f00_0000, end: 0x9f12_3456 },
  }));
  const prop = (path: string, name: string) => {
    const node = nodes.get(path);
    assert.ok(node, `node ${path} missing:\n${dts}`);
    return node.get(name);
  };
  assert.equal(prop('/', 'compatible'), '"riscv-virtio"');
  assert.equal(prop('/', '#address-cells'), '<0x02>');
  assert.equal(prop('/chosen', 'bootargs'), '"console=ttyS0 root=/dev/vda"');
  assert.equal(prop('/chosen', 'stdout-path'), '"/soc/serial@10000000"');
  assert.equal(prop('/chosen', 'linux,initrd-start'), '<0x00 0x9f000000>');
  assert.equal(prop('/chosen', 'linux,initrd-end'), '<0x00 0x9f123456>');
  assert.equal(prop('/memory@80000000', 'reg'), '<0x00 0x80000000 0x00 0x20000000>');
  assert.equal(prop('/memory@80000000', 'device_type'), '"memory"');
  assert.equal(prop('/cpus', 'timebase-frequency'), '<0x989680>');

  const intc: string[] = [];
  for (const hart of [0, 1]) {
    const cpu = `/cpus/cpu@${hart}`;
    assert.equal(prop(cpu, 'reg'), `<0x0${hart}>`);
    assert.equal(prop(cpu, 'device_type'), '"cpu"');
    assert.equal(prop(cpu, 'status'), '"okay"');
    assert.equal(prop(cpu, 'riscv,isa'), '"rv64imafdc_zicntr_zicsr_zifencei_sstc"');
    assert.equal(prop(cpu, 'riscv,isa-base'), '"rv64i"');
    assert.equal(prop(cpu, 'riscv,isa-extensions'), '"i\\0m\\0a\\0f\\0d\\0c\\0zicntr\\0zicsr\\0zifencei\\0sstc"');
    assert.equal(prop(cpu, 'mmu-type'), '"riscv,sv48"');
    assert.equal(prop(`${cpu}/interrupt-controller`, 'compatible'), '"riscv,cpu-intc"');
    assert.equal(prop(`${cpu}/interrupt-controller`, '#interrupt-cells'), '<0x01>');
    assert.equal(prop(`${cpu}/interrupt-controller`, 'interrupt-controller'), '');
    intc.push(prop(`${cpu}/interrupt-controller`, 'phandle')!.slice(1, -1));
    assert.equal(prop(`/cpus/cpu-map/cluster0/core${hart}`, 'cpu'), prop(cpu, 'phandle'));
  }
  const [i0, i1] = intc;
  assert.equal(prop('/soc/clint@2000000', 'interrupts-extended'), `<${i0} 0x03 ${i0} 0x07 ${i1} 0x03 ${i1} 0x07>`);
  assert.equal(prop('/soc/clint@2000000', 'reg'), '<0x00 0x2000000 0x00 0x10000>');
  const plic = '/soc/plic@c000000';
  assert.equal(prop(plic, 'interrupts-extended'), `<${i0} 0x0b ${i0} 0x09 ${i1} 0x0b ${i1} 0x09>`);
  assert.equal(prop(plic, 'compatible'), '"sifive,plic-1.0.0\\0riscv,plic0"');
  assert.equal(prop(plic, 'riscv,ndev'), '<0x5f>');
  assert.equal(prop(plic, 'reg'), '<0x00 0xc000000 0x00 0x600000>');
  const plicPhandle = prop(plic, 'phandle');
  const uart = '/soc/serial@10000000';
  assert.equal(prop(uart, 'compatible'), '"ns16550a"');
  assert.equal(prop(uart, 'interrupt-parent'), plicPhandle);
  assert.equal(prop(uart, 'interrupts'), '<0x0a>');
  // 3686400 = bytes 00 38 40 00, which dtc takes for a string (it prints QEMU's the same way).
  assert.equal(prop(uart, 'clock-frequency'), '"\\08@"');
  assert.equal(prop('/soc/rtc@101000', 'interrupts'), '<0x0b>');
  const testDevice = '/soc/test@100000';
  assert.equal(prop(testDevice, 'compatible'), '"sifive,test1\\0sifive,test0\\0syscon"');
  assert.equal(prop('/poweroff', 'regmap'), prop(testDevice, 'phandle'));
  assert.equal(prop('/poweroff', 'value'), '<0x5555>');
  assert.equal(prop('/reboot', 'regmap'), prop(testDevice, 'phandle'));
  assert.equal(prop('/reboot', 'value'), '<0x7777>');
  for (let n = 1; n <= 8; n++) {
    const virtio = `/soc/virtio_mmio@1000${n}000`;
    assert.equal(prop(virtio, 'compatible'), '"virtio,mmio"');
    assert.equal(prop(virtio, 'interrupts'), `<0x0${n}>`);
    assert.equal(prop(virtio, 'interrupt-parent'), plicPhandle);
  }
});

test('the virt tree has the node set and compatibles of QEMU\'s own virt tree', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'hangar-fdt-')), 'qemu-virt.dtb');
  execFileSync('qemu-system-riscv64', ['-M', `virt,dumpdtb=${file}`, '-smp', '2', '-m', '512M', '-nographic', '-bios', 'none'],
    { stdio: 'ignore' });
  const qemu = decodeDtb(readFileSync(file)).nodes;
  const ours = decodeDtb(virtDtb({ harts: 2, ramBytes: 512 * MiB, bootargs: '' })).nodes;
  // Devices QEMU has and this board leaves out: PCI, flash, fw_cfg, the platform bus, the PMU.
  const notModelled = /^\/(pmu|fw-cfg@|flash@|platform-bus@|soc\/pci@)/;
  const qemuNodes = [...qemu.keys()].filter((path) => !notModelled.test(path)).sort();
  assert.deepEqual([...ours.keys()].sort(), qemuNodes);
  for (const path of qemuNodes) {
    for (const name of ['compatible', 'reg', 'interrupts', 'device_type', '#interrupt-cells', '#address-cells', '#size-cells']) {
      assert.equal(ours.get(path)!.get(name), qemu.get(path)!.get(name), `${path} ${name}`);
    }
  }
});
