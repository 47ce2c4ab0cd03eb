// What makes a VM distinct on a network and to its guest OS: a MAC address, disk serials and a
// machine id. A new VM and every clone get fresh ones, so two copies never collide on a LAN or
// in a guest's /etc/machine-id.
import { randomBytes } from 'node:crypto';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** 52:54:00 is the prefix QEMU gives its virtual NICs: locally administered, unicast. */
export function newMacAddress(): string {
  return `52:54:00:${hex(3).match(/../g)!.join(':')}`;
}

/** A virtio-blk serial (at most 20 bytes): "HGR" and 12 hex digits. */
export function newDiskSerial(): string {
  return `HGR${hex(6).toUpperCase()}`;
}

/** A systemd-style machine id: 32 lowercase hex digits, never all zeros. */
export function newMachineId(): string {
  for (;;) {
    const id = hex(16);
    if (!/^0+$/.test(id)) return id;
  }
}

/** A short random tag that makes file names of successive disk overlays and saved states unique. */
export function newFileTag(): string {
  return hex(4);
}
