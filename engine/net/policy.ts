// The virtual network's addresses and what the guest may reach through the NAT. QEMU's slirp
// defaults: network 10.0.2.0/24, gateway 10.0.2.2 (which stands for the host), DNS 10.0.2.3,
// guest 10.0.2.15.
//
// The guest is untrusted, so the default is closed where the host is most exposed: nothing on
// the host's loopback (127.0.0.0/8, which the gateway's address maps to) is reachable unless
// the options name that address and port in `allow`; the gateway itself answers only DHCP,
// DNS (UDP 53 on the DNS address) and ICMP echo. Unspecified, broadcast and multicast
// destinations are never forwarded. Everything else goes to the host's own sockets.
import { ipToString, parseIp } from './frames.ts';

export interface HostEndpoint {
  /** A host address, e.g. "127.0.0.1". */
  address: string;
  port: number;
}

export interface NetworkOptions {
  /** The virtual network, CIDR: default "10.0.2.0/24". The next four addresses lie inside it. */
  network?: string;
  /** Default: the network's .2. Connections to it go to the host's 127.0.0.1. */
  gateway?: string;
  /** Default: the network's .3. */
  dns?: string;
  /** The address DHCP leases to the guest. Default: the network's .15. */
  guest?: string;
  /** Host loopback endpoints the guest may reach (as 10.0.2.2:port or directly). Default: none. */
  allow?: HostEndpoint[];
}

export type Protocol = 'tcp' | 'udp';

/** Where a guest flow goes on the host, or why it may not. */
export type Route = { host: string; port: number } | { refused: string };

const LOOPBACK_NET = 0x7f00_0000;

export class NetworkPolicy {
  readonly network: number;
  readonly netmask: number;
  readonly prefix: number;
  readonly gateway: number;
  readonly dns: number;
  readonly guest: number;
  private readonly allowed: Set<string>;

  constructor(options: NetworkOptions = {}) {
    const [base, bits, extra] = (options.network ?? '10.0.2.0/24').split('/');
    const prefix = Number(bits);
    if (extra !== undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 29) {
      throw new RangeError(`network "${options.network}" is not an IPv4 CIDR with a prefix of 8..29`);
    }
    this.prefix = prefix;
    this.netmask = (0xffff_ffff << (32 - prefix)) >>> 0;
    this.network = (parseIp(base) & this.netmask) >>> 0;
    const inside = (text: string | undefined, host: number, what: string): number => {
      const ip = text === undefined ? (this.network + host) >>> 0 : parseIp(text);
      if (!this.contains(ip) || ip === this.network || ip === this.broadcast) {
        throw new RangeError(`${what} ${ipToString(ip)} is not a host address of ${ipToString(this.network)}/${prefix}`);
      }
      return ip;
    };
    this.gateway = inside(options.gateway, 2, 'gateway');
    this.dns = inside(options.dns, 3, 'DNS address');
    this.guest = inside(options.guest, 15, 'guest address');
    if (new Set([this.gateway, this.dns, this.guest]).size !== 3) throw new RangeError('gateway, DNS and guest addresses must differ');
    this.allowed = new Set((options.allow ?? []).map((e) => {
      parseIp(e.address);
      if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw new RangeError(`allowed port ${e.port} is not in 1..65535`);
      return `${e.address}:${e.port}`;
    }));
  }

  get broadcast(): number {
    return (this.network | ~this.netmask) >>> 0;
  }

  contains(ip: number): boolean {
    return ((ip & this.netmask) >>> 0) === this.network;
  }

  /** Where a guest connection or datagram to dst:port goes on the host. */
  route(protocol: Protocol, dst: number, port: number): Route {
    if (port === 0) return { refused: 'port 0' };
    if (dst === this.dns) return { refused: `${protocol} to the DNS address other than UDP 53` };
    // The gateway stands for the host: its loopback (slirp's mapping), allow list only.
    const host = dst === this.gateway ? '127.0.0.1' : ipToString(dst);
    if (dst === this.gateway || (dst >>> 24) === LOOPBACK_NET >>> 24) {
      return this.allowed.has(`${host}:${port}`) ? { host, port } : { refused: `host loopback ${host}:${port} is not in the allow list` };
    }
    if (this.contains(dst)) return { refused: `nothing answers at ${ipToString(dst)}` };
    if (dst >>> 24 === 0 || dst >= 0xe000_0000) return { refused: `${ipToString(dst)} is not a unicast address` };
    return { host, port };
  }
}
