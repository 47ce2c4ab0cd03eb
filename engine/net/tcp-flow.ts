// One guest TCP connection, NATed to a host net.Socket. Toward the guest the stack is the
// passive end of a real TCP (RFC 9293): it answers the guest's SYN with SYN-ACK only once the
// host connection is up (a refused or unreachable host port gets RST), tracks sequence and
// acknowledgement numbers both ways, and closes with FIN or RST in either direction.
//
//   guest → host: in-order data only (a segment out of order is dropped and the next expected
//     byte acknowledged again). Our advertised window is what the host socket's write buffer
//     still takes (BUFFER_CAP − writableLength): a host peer that does not read closes the
//     window and the guest stops sending; 'drain' reopens it with a window update.
//   host → guest: bytes read from the socket wait in sendBuffer until the guest acknowledges
//     them; we send no more than the guest's window allows (§3.8.6), probe a zero window
//     (§3.8.6.1), and retransmit the earliest unacknowledged segment on timeout with
//     exponential backoff (RFC 6298 §5; a fixed initial RTO, no RTT sampling). When sendBuffer
//     reaches BUFFER_CAP the socket is paused: a guest that does not read stops the host sender.
//
// Memory per flow: at most BUFFER_CAP bytes waiting for the guest (plus one socket read) and
// BUFFER_CAP bytes waiting for the host. No window scaling, SACK or timestamps: windows are
// at most 65,535 bytes.
import { connect, type Socket } from 'node:net';
import { buildTcp, TcpFlag, type TcpSegment } from './frames.ts';

/** Bytes buffered per direction at most; also the largest window (no window scaling). */
export const BUFFER_CAP = 65535;
/** RFC 9293 §3.7.1: the MSS a peer that sends no MSS option accepts. */
const DEFAULT_MSS = 536;

export interface TcpTimings {
  /** Initial retransmission timeout (RFC 6298 §2.1: 1 s). */
  rtoMs: number;
  /** Largest backed-off timeout. */
  maxRtoMs: number;
  /** Retransmissions of one segment before the connection is reset. */
  maxRetries: number;
  /** Retransmissions of our SYN-ACK before a half-open flow is reset (its table slot freed). */
  maxSynAckRetries: number;
  /** How long a host connect may take before the guest gets RST. */
  connectTimeoutMs: number;
  /** TIME-WAIT: how long a closed flow lingers to acknowledge a retransmitted FIN. */
  timeWaitMs: number;
}

export const DEFAULT_TCP_TIMINGS: TcpTimings = { rtoMs: 1000, maxRtoMs: 60_000, maxRetries: 8, maxSynAckRetries: 4, connectTimeoutMs: 20_000, timeWaitMs: 2000 };

/** Where a flow's packets for the guest go. */
export interface FlowOutput {
  /** Queues an IPv4 packet for the guest; false when the queue was full and it was dropped. */
  send(packet: Uint8Array): boolean;
  /** Packets the guest-bound queue still takes. */
  readonly room: number;
}

export interface FlowEnds {
  guestIp: number;
  guestPort: number;
  /** The destination as the guest addressed it (the source of our segments). */
  remoteIp: number;
  remotePort: number;
}

export const enum TcpState {
  Connecting = 'connecting', // SYN taken, host connect in progress: nothing sent yet
  SynReceived = 'syn-received',
  Established = 'established',
  CloseWait = 'close-wait',
  FinWait1 = 'fin-wait-1',
  FinWait2 = 'fin-wait-2',
  Closing = 'closing',
  LastAck = 'last-ack',
  TimeWait = 'time-wait',
  Closed = 'closed',
}

/** a − b as a signed 32-bit distance: sequence numbers wrap (RFC 9293 §3.4). */
const seqDiff = (a: number, b: number): number => (a - b) | 0;
const seqAdd = (a: number, n: number): number => (a + n) >>> 0;

export class TcpFlow {
  state = TcpState.Connecting;
  private readonly socket: Socket;
  /** Next sequence number expected from the guest. */
  private rcvNxt: number;
  /** Oldest unacknowledged and next sequence number of ours. */
  private sndUna: number;
  private sndNxt: number;
  /** The guest's advertised window and MSS. */
  private sndWnd: number;
  private readonly sndMss: number;
  /** Host bytes from sndUna on: sent-but-unacknowledged, then not yet sent. */
  private sendBuffer = new Uint8Array(0);
  private hostEnded = false;
  private finSent = false;
  private lastWindow = 0;
  private timer: NodeJS.Timeout | null = null;
  private rto: number;
  private retries = 0;
  private hostPaused = false;

  constructor(
    readonly ends: FlowEnds,
    syn: TcpSegment,
    host: { host: string; port: number },
    private readonly ourMss: number,
    private readonly output: FlowOutput,
    private readonly timings: TcpTimings,
    private readonly onClosed: (flow: TcpFlow) => void,
  ) {
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.sndUna = this.sndNxt = crypto.getRandomValues(new Uint32Array(1))[0]; // §3.4.1: unpredictable ISN
    this.sndWnd = syn.window;
    this.sndMss = Math.max(1, Math.min(syn.mss ?? DEFAULT_MSS, ourMss));
    this.rto = timings.rtoMs;
    // No Nagle on the host side: the guest's own TCP already decided how to segment its data.
    this.socket = connect({ host: host.host, port: host.port, allowHalfOpen: true, noDelay: true });
    this.socket.pause(); // nothing is read until the guest completes the handshake
    this.setTimer(timings.connectTimeoutMs);
    this.socket.once('connect', () => {
      this.clearTimer();
      this.state = TcpState.SynReceived;
      this.sendSynAck();
    });
    this.socket.on('data', (data: Buffer) => this.fromHost(data));
    this.socket.on('end', () => {
      this.hostEnded = true;
      this.pump();
    });
    this.socket.on('drain', () => this.windowUpdate());
    this.socket.on('error', () => this.reset());
    this.socket.on('close', () => {
      // The socket closed without an error: both directions are done, or the guest's side already closed.
      if (this.state === TcpState.Connecting || this.state === TcpState.SynReceived) this.reset();
    });
  }

  /** What the flow holds, for the stack's accounting and tests. */
  get buffered(): { toGuest: number; toHost: number; hostReading: boolean } {
    return { toGuest: this.sendBuffer.length, toHost: this.socket.writableLength, hostReading: !this.hostPaused && this.state !== TcpState.Connecting };
  }

  /** A segment from the guest for this flow (RFC 9293 §3.10.7.4, simplified as the header says). */
  receive(seg: TcpSegment): void {
    if (this.state === TcpState.Closed || this.state === TcpState.Connecting) return; // SYN retransmits while connecting
    const window = this.ourWindow();
    if (seg.flags & TcpFlag.RST) {
      // §3.10.7.4 / RFC 5961 §3: only a RST at the expected sequence number closes the flow.
      if (seg.seq === this.rcvNxt) this.close(true);
      return;
    }
    if (seg.flags & TcpFlag.SYN) {
      if (this.state === TcpState.SynReceived && seqAdd(seg.seq, 1) === this.rcvNxt) this.sendSynAck();
      else this.sendAck(); // RFC 5961 §4: a challenge ACK
      return;
    }
    if (!(seg.flags & TcpFlag.ACK)) return;
    if (this.state === TcpState.SynReceived) {
      if (seg.ack !== this.sndNxt) return this.segment(seg.ack, TcpFlag.RST);
      this.state = TcpState.Established;
      this.clearTimer();
      this.retries = 0;
      this.resumeHost();
    }
    if (!this.takeAck(seg)) return this.sendAck(); // §3.10.7.4: an ACK of what we never sent
    if ((this.state as TcpState) === TcpState.Closed) return; // our FIN's ACK ended LAST-ACK
    this.takeData(seg, window);
    this.pump();
  }

  /** Takes the segment's acknowledgement; false when it acknowledges bytes we never sent. */
  private takeAck(seg: TcpSegment): boolean {
    const acked = seqDiff(seg.ack, this.sndUna);
    if (seqDiff(seg.ack, this.sndNxt) > 0) return false;
    if (acked < 0) return true; // an old duplicate: its data may still be new
    this.sndWnd = seg.window;
    if (acked === 0) return true;
    const finAcked = this.finSent && seg.ack === this.sndNxt;
    this.sendBuffer = this.sendBuffer.subarray(Math.min(acked, this.sendBuffer.length));
    this.sndUna = seg.ack;
    this.retries = 0;
    this.rto = this.timings.rtoMs;
    this.clearTimer();
    if (this.sndUna !== this.sndNxt) this.setTimer(this.rto);
    if (this.hostPaused && this.sendBuffer.length <= BUFFER_CAP / 2) this.resumeHost();
    if (finAcked) {
      if (this.state === TcpState.FinWait1) this.state = TcpState.FinWait2;
      else if (this.state === TcpState.Closing) this.timeWait();
      else if (this.state === TcpState.LastAck) this.close();
    }
    return true;
  }

  private takeData(seg: TcpSegment, window: number): void {
    const fin = (seg.flags & TcpFlag.FIN) !== 0;
    if (seg.payload.length === 0 && !fin) return;
    if (this.state === TcpState.TimeWait) return this.sendAck(); // the guest's FIN again
    const receiving = this.state === TcpState.Established || this.state === TcpState.FinWait1 || this.state === TcpState.FinWait2;
    if (!receiving) return this.sendAck(); // data after the guest's FIN
    // Skip bytes we already have; a segment starting beyond rcvNxt is out of order: dropped.
    const skip = seqDiff(this.rcvNxt, seg.seq);
    if (skip < 0 || skip > seg.payload.length) return this.sendAck();
    const fresh = seg.payload.subarray(skip);
    const taken = fresh.subarray(0, window);
    if (taken.length) {
      this.socket.write(taken);
      this.rcvNxt = seqAdd(this.rcvNxt, taken.length);
    }
    if (fin && taken.length === fresh.length) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.socket.end();
      if (this.state === TcpState.Established) this.state = TcpState.CloseWait;
      else if (this.state === TcpState.FinWait2) this.timeWait();
      else this.state = TcpState.Closing; // FinWait1: our FIN is not acknowledged yet
    }
    this.sendAck();
  }

  private fromHost(data: Buffer): void {
    const joined = new Uint8Array(this.sendBuffer.length + data.length);
    joined.set(this.sendBuffer);
    joined.set(data, this.sendBuffer.length);
    this.sendBuffer = joined;
    if (this.sendBuffer.length >= BUFFER_CAP) {
      this.socket.pause();
      this.hostPaused = true;
    }
    this.pump();
  }

  private resumeHost(): void {
    this.hostPaused = false;
    this.socket.resume();
  }

  /** Sends what the guest's window and the output queue allow, then our FIN once the host has ended. */
  pump(): void {
    if (this.state !== TcpState.Established && this.state !== TcpState.CloseWait) return;
    for (;;) {
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const unsent = this.sendBuffer.length - inFlight;
      if (unsent > 0) {
        const usable = this.sndWnd - inFlight;
        if (usable <= 0 || this.output.room < 2) {
          // A zero window with nothing in flight: probe it when the timer fires (§3.8.6.1).
          if (!this.timer) this.setTimer(this.rto);
          return;
        }
        const length = Math.min(unsent, usable, this.sndMss);
        this.segment(this.sndNxt, TcpFlag.ACK | TcpFlag.PSH, this.sendBuffer.subarray(inFlight, inFlight + length));
        this.sndNxt = seqAdd(this.sndNxt, length);
        if (!this.timer) this.setTimer(this.rto);
        continue;
      }
      if (this.hostEnded && !this.finSent) {
        this.segment(this.sndNxt, TcpFlag.FIN | TcpFlag.ACK);
        this.sndNxt = seqAdd(this.sndNxt, 1);
        this.finSent = true;
        this.state = this.state === TcpState.Established ? TcpState.FinWait1 : TcpState.LastAck;
        if (!this.timer) this.setTimer(this.rto);
      }
      return;
    }
  }

  /** The retransmission (or zero-window probe) timer fired. */
  private onTimer(): void {
    this.timer = null;
    if (this.state === TcpState.Connecting) return this.reset(); // the host never answered
    const inFlight = seqDiff(this.sndNxt, this.sndUna);
    if (inFlight === 0) {
      if (this.sendBuffer.length === 0) return;
      // Zero-window probe: one byte beyond the window, then retransmitted like any other.
      if (this.output.room > 0 && this.sndWnd === 0) {
        this.segment(this.sndNxt, TcpFlag.ACK, this.sendBuffer.subarray(0, 1));
        this.sndNxt = seqAdd(this.sndNxt, 1);
      } else {
        this.pump();
      }
      this.setTimer(this.rto);
      return;
    }
    // A guest that keeps its window shut is not a lost segment: probes never reset the flow (§3.8.6.1).
    const probing = this.sndWnd === 0 && this.state !== TcpState.SynReceived;
    const limit = this.state === TcpState.SynReceived ? this.timings.maxSynAckRetries : this.timings.maxRetries;
    if (!probing && ++this.retries > limit) return this.reset();
    this.rto = Math.min(this.rto * 2, this.timings.maxRtoMs);
    if (this.state === TcpState.SynReceived) this.sendSynAck();
    else {
      const data = Math.min(inFlight - (this.finSent ? 1 : 0), this.sendBuffer.length, this.sndMss);
      if (data > 0) this.segment(this.sndUna, TcpFlag.ACK | TcpFlag.PSH, this.sendBuffer.subarray(0, data));
      else this.segment(this.sndUna, TcpFlag.FIN | TcpFlag.ACK);
    }
    this.setTimer(this.rto);
  }

  private ourWindow(): number {
    return this.state === TcpState.Connecting ? 0 : Math.max(0, BUFFER_CAP - this.socket.writableLength);
  }

  /** The host socket took its buffered bytes: reopen a window that was (nearly) shut. */
  private windowUpdate(): void {
    if (this.lastWindow < this.sndMss && this.ourWindow() > this.lastWindow) this.sendAck();
  }

  private sendSynAck(): void {
    this.output.send(this.packet(this.sndUna, TcpFlag.SYN | TcpFlag.ACK, undefined, this.ourMss));
    this.sndNxt = seqAdd(this.sndUna, 1);
    if (!this.timer) this.setTimer(this.rto);
  }

  private sendAck(): void {
    this.segment(this.sndNxt, TcpFlag.ACK);
  }

  private segment(seq: number, flags: number, payload?: Uint8Array): void {
    this.output.send(this.packet(seq, flags, payload));
  }

  private packet(seq: number, flags: number, payload?: Uint8Array, mss?: number): Uint8Array {
    const window = flags & TcpFlag.RST ? 0 : this.ourWindow();
    this.lastWindow = window;
    const { guestIp, guestPort, remoteIp, remotePort } = this.ends;
    return buildTcp({ src: remoteIp, dst: guestIp, srcPort: remotePort, dstPort: guestPort, seq, ack: this.rcvNxt, flags, window, mss, payload });
  }

  private setTimer(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.onTimer(), ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private timeWait(): void {
    this.state = TcpState.TimeWait;
    this.clearTimer();
    this.timer = setTimeout(() => this.close(), this.timings.timeWaitMs);
  }

  /** The host side failed or gave up: the guest gets RST (§3.10.7.1 for a SYN not yet answered). */
  reset(): void {
    if (this.state === TcpState.Closed) return;
    if (this.state === TcpState.Connecting) this.output.send(this.packet(0, TcpFlag.RST | TcpFlag.ACK));
    else this.segment(this.sndNxt, TcpFlag.RST | TcpFlag.ACK);
    this.close();
  }

  /** Drops the flow without telling the guest; `resetHost`: the host peer gets RST (the guest reset). */
  close(resetHost = false): void {
    if (this.state === TcpState.Closed) return;
    this.state = TcpState.Closed;
    this.clearTimer();
    if (resetHost && this.socket.readyState === 'open') this.socket.resetAndDestroy();
    else this.socket.destroy();
    this.onClosed(this);
  }
}
