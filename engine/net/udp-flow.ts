// One guest UDP source port, NATed to a host dgram socket of its own (an ephemeral port). The
// guest may send from it to any destination the policy routes; datagrams come back only from
// host endpoints the guest sent to (endpoint-dependent filtering, RFC 4787 §5), each shown to
// the guest as the address it sent to (10.0.2.2 for the host's loopback). A flow closes after
// IDLE_MS without traffic. Bounded: at most MAX_PEERS endpoints remembered (the oldest is
// forgotten), MAX_PENDING_SENDS datagrams on their way out (more are dropped), and datagrams
// larger than the guest's MTU are dropped (we do not fragment).
import { createSocket, type Socket } from 'node:dgram';
import { buildUdp } from './frames.ts';
import type { FlowOutput } from './tcp-flow.ts';

const IDLE_MS = 60_000;
const MAX_PEERS = 64;
const MAX_PENDING_SENDS = 64;
const IP_UDP_HEADERS = 28;

export class UdpFlow {
  private readonly socket: Socket;
  /** "host:port" as sent to → the endpoint as the guest named it. */
  private readonly peers = new Map<string, { ip: number; port: number }>();
  private pendingSends = 0;
  private idle: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly guestIp: number,
    readonly guestPort: number,
    private readonly mtu: number,
    private readonly output: FlowOutput,
    private readonly onClosed: (flow: UdpFlow) => void,
  ) {
    this.socket = createSocket('udp4');
    this.socket.on('message', (message, from) => this.fromHost(message, `${from.address}:${from.port}`));
    this.socket.on('error', () => this.close());
    this.idle = setTimeout(() => this.close(), IDLE_MS);
  }

  /** A datagram from the guest to `host` (routed), which the guest addressed as remoteIp:remotePort. */
  send(host: { host: string; port: number }, remoteIp: number, remotePort: number, payload: Uint8Array): void {
    if (this.closed || this.pendingSends >= MAX_PENDING_SENDS) return;
    const key = `${host.host}:${host.port}`;
    this.peers.delete(key);
    this.peers.set(key, { ip: remoteIp, port: remotePort });
    if (this.peers.size > MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
    this.touch();
    this.pendingSends++;
    this.socket.send(payload, host.port, host.host, () => { this.pendingSends--; });
  }

  private fromHost(message: Buffer, from: string): void {
    const peer = this.peers.get(from);
    if (!peer || message.length + IP_UDP_HEADERS > this.mtu) return;
    this.touch();
    this.output.send(buildUdp(peer.ip, this.guestIp, peer.port, this.guestPort, message));
  }

  private touch(): void {
    this.idle.refresh();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idle);
    this.socket.close();
    this.onClosed(this);
  }
}
