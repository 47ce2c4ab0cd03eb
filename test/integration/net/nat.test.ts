// The NAT NIC end to end in the Debian guest: virtio-net on the board, the user-mode stack on the
// machine's net thread, busybox in the guest. At the prompt eth0 has 10.0.2.15 from DHCP; DNS at
// 10.0.2.3 answers from the host's resolver (its /etc/hosts included); a 64 MiB file served by
// a host HTTP server on 127.0.0.1 (its port in the NIC's allow list) arrives whole, as the
// guest's sha256sum says; UDP crosses both ways (busybox tftp: a get and a put against the test's
// TFTP server); a host loopback port not in the allow list is refused and its server sees no
// connection; the Debian mirror the host's apt sources name answers through the NAT; and after a
// save and restore the link has flapped (the guest's carrier counter says so) and new
// connections go through the new stack.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MachineConfig } from '../../../engine/machine/machine.ts';
import { ensureDebianGuest } from '../../../engine/guests/debian.ts';
import { findDebianMirror } from '../../../engine/guests/apt-sources.ts';
import { bootToShell, startGuestMachine, type GuestMachine } from '../../support/guest-machine.ts';

const BOOT_TIMEOUT_MS = 600_000;
const BLOB_BYTES = 64 * 1024 * 1024;
const blob = randomBytes(BLOB_BYTES);
const blobDigest = createHash('sha256').update(blob).digest('hex');

let guest: GuestMachine;
let config: MachineConfig;
const dir = mkdtempSync(join(tmpdir(), 'hangar-nat-'));
let http: Server;
let refused: Server;
let refusedConnections = 0;
let tftp: UdpSocket;
/** The file the guest put over TFTP, as the server received it. */
let tftpUpload: Buffer | null = null;
const TFTP_FILE = randomBytes(100_000);

const port = (server: { address(): AddressInfo | string | null }) => (server.address() as AddressInfo).port;

/**
 * A TFTP server (RFC 1350) for one read and one write, answering from its own port (the NAT
 * passes replies only from the endpoint the guest sent to; busybox's client takes the first
 * reply's port as the server's).
 */
function startTftp(): UdpSocket {
  const socket = createSocket('udp4');
  let writing: Buffer[] = [];
  socket.on('message', (message, peer) => {
    const op = message.readUInt16BE(0);
    const reply = (bytes: Buffer) => socket.send(bytes, peer.port, peer.address);
    const data = (block: number) => {
      const chunk = TFTP_FILE.subarray((block - 1) * 512, block * 512);
      reply(Buffer.concat([Buffer.from([0, 3, block >> 8, block & 0xff]), chunk]));
    };
    if (op === 1) data(1); // RRQ: options ignored (RFC 2347 lets a server), 512-byte blocks
    else if (op === 4) { // ACK of a block we sent: the next one, until the short block was acknowledged
      const block = message.readUInt16BE(2);
      if (block * 512 <= TFTP_FILE.length) data(block + 1);
    } else if (op === 2) { // WRQ
      writing = [];
      reply(Buffer.from([0, 4, 0, 0]));
    } else if (op === 3) {
      const block = message.readUInt16BE(2);
      const chunk = message.subarray(4);
      if (block === writing.length + 1) writing.push(chunk);
      reply(Buffer.from([0, 4, block >> 8, block & 0xff]));
      if (chunk.length < 512) tftpUpload = Buffer.concat(writing);
    }
  });
  socket.bind(0, '127.0.0.1');
  return socket;
}

before(async () => {
  http = createHttpServer((request, response) => {
    response.writeHead(200, { 'content-length': BLOB_BYTES, 'content-type': 'application/octet-stream' });
    response.end(blob);
  });
  http.listen(0, '127.0.0.1');
  refused = createTcpServer((socket) => { refusedConnections++; socket.destroy(); });
  refused.listen(0, '127.0.0.1');
  tftp = startTftp();
  await Promise.all([once(http, 'listening'), once(refused, 'listening'), once(tftp, 'listening')]);

  const files = await ensureDebianGuest({});
  config = {
    harts: 1, ramBytes: 512 * 1024 * 1024, firmwarePath: files.firmware, kernelPath: files.kernel, initrdPath: files.initrd,
    // Only the modules the test needs (ext4 takes seconds to load).
    bootargs: `${files.bootargs} quiet hangar.modules=virtio_mmio,virtio_net`,
    nics: [{
      kind: 'nat', mac: '52:54:00:12:34:56',
      network: { allow: [{ address: '127.0.0.1', port: port(http) }, { address: '127.0.0.1', port: port(tftp) }] },
    }],
  };
  guest = await bootToShell(config, BOOT_TIMEOUT_MS);
});

after(async () => {
  await guest?.machine.kill();
  http?.close();
  refused?.close();
  tftp?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('eth0 has 10.0.2.15 from DHCP at the prompt, a default route through 10.0.2.2 and 10.0.2.3 as its resolver', { timeout: 60_000 }, async () => {
  assert.match(guest.console.transcript, /lease of 10\.0\.2\.15 obtained from 10\.0\.2\.2/);
  const { output } = await guest.console.run('ip -4 addr show eth0; ip route; cat /etc/resolv.conf; cat /sys/class/net/eth0/address');
  assert.match(output, /inet 10\.0\.2\.15\/24/);
  assert.match(output, /default via 10\.0\.2\.2 dev eth0/);
  assert.match(output, /nameserver 10\.0\.2\.3/);
  assert.match(output, /52:54:00:12:34:56/);
  const ping = await guest.console.run('ping -c 1 -W 5 10.0.2.2');
  assert.equal(ping.status, 0, ping.output);
});

test('DNS at 10.0.2.3 answers from the host\'s resolver', { timeout: 60_000 }, async () => {
  const { output, status } = await guest.console.run('nslookup localhost 10.0.2.3');
  assert.equal(status, 0, output);
  assert.match(output, /Address:\s*127\.0\.0\.1/);
  const missing = await guest.console.run('nslookup no-such-host.invalid 10.0.2.3');
  assert.notEqual(missing.status, 0, missing.output);
});

test('a 64 MiB file from a host HTTP server arrives whole (sha256 in the guest)', { timeout: 900_000 }, async () => {
  const began = performance.now();
  const { output, status } = await guest.console.run(`wget -q -O - http://10.0.2.2:${port(http)}/blob | sha256sum`, 840_000);
  const seconds = (performance.now() - began) / 1000;
  assert.equal(status, 0, output);
  assert.equal(output.split(/\s+/)[0], blobDigest);
  console.log(`nat: 64 MiB over HTTP through the NAT in ${seconds.toFixed(1)} s (${(64 / seconds).toFixed(1)} MiB/s, sha256sum included)`);
});

test('UDP both ways: a TFTP get and put against the host', { timeout: 120_000 }, async () => {
  const get = await guest.console.run(`tftp -g -r file -l /tmp/got 10.0.2.2 ${port(tftp)} && sha256sum /tmp/got`, 90_000);
  assert.equal(get.status, 0, get.output);
  assert.match(get.output, new RegExp(`^${createHash('sha256').update(TFTP_FILE).digest('hex')}  /tmp/got$`, 'm'));
  const put = await guest.console.run(`head -c 3000 /tmp/got > /tmp/put && tftp -p -l /tmp/put -r up 10.0.2.2 ${port(tftp)}`, 90_000);
  assert.equal(put.status, 0, put.output);
  assert.deepEqual(tftpUpload, TFTP_FILE.subarray(0, 3000));
});

test('a host loopback port not in the allow list is refused; its server sees no connection', { timeout: 60_000 }, async () => {
  const { output, status } = await guest.console.run(`wget -q -O - -T 10 http://10.0.2.2:${port(refused)}/ 2>&1`);
  assert.notEqual(status, 0);
  assert.match(output, /refused/i);
  assert.equal(refusedConnections, 0);
});

test('the Debian mirror of the host\'s apt sources answers through the NAT', { timeout: 120_000 }, async () => {
  const mirror = findDebianMirror();
  const { output, status } = await guest.console.run(`wget -q -O - ${mirror}/dists/trixie/Release | head -n 3`, 100_000);
  assert.equal(status, 0, output);
  assert.match(output, /^Origin: Debian$/m);
});

test('after a save and restore the link flaps and new connections go through the new stack', { timeout: 300_000 }, async () => {
  const carrierChanges = async () => Number((await guest.console.run('cat /sys/class/net/eth0/carrier_changes')).output);
  const before = await carrierChanges();
  await guest.machine.pause();
  const state = join(dir, 'nat.hst');
  await guest.machine.saveState(state, null);
  await guest.machine.kill();
  guest = startGuestMachine({ ...config, restoreFrom: { path: state, vm: null } });
  await guest.machine.started;
  // Down for a second (VirtioNet.flapLink), then up: two changes of carrier.
  let after = before;
  for (let i = 0; i < 30 && after < before + 2; i++) {
    await sleep(500);
    after = await carrierChanges();
  }
  assert.equal(after, before + 2, `carrier_changes went from ${before} to ${after}`);
  const { output, status } = await guest.console.run(`wget -q -O - http://10.0.2.2:${port(http)}/blob | head -c 1048576 | sha256sum`, 120_000);
  assert.equal(status, 0, output);
  assert.equal(output.split(/\s+/)[0], createHash('sha256').update(blob.subarray(0, 1048576)).digest('hex'));
});
