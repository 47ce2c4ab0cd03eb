// What a network device (virtio-net) is connected to: the user-mode stack (nat.ts) or, later,
// an internal switch. Frames are whole Ethernet frames without the device's own header. The
// device pulls, and holds at most one frame of its own until the guest posts a receive buffer:
// the back-end keeps frames for the guest in a bounded queue and drops them past the bound.
export interface NetBackend {
  /** A frame the guest sent. The back-end must copy it if it keeps it. */
  send(frame: Uint8Array): void;
  /** The next frame for the guest, or null when there is none. */
  receive(): Uint8Array | null;
}
