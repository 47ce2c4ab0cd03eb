// Reading a saved device state back. Saved states come from files on disk, so every field is
// checked: a missing or mistyped field is a DeviceStateError naming the device and the field,
// never a device left half-restored with undefined registers. 64-bit values are saved as
// decimal strings (JSON has no 64-bit integers).
import type { DeviceState } from './device.ts';

export class DeviceStateError extends Error {}

export const u64State = (value: bigint): string => value.toString();

export class StateReader {
  private constructor(
    private readonly state: Record<string, unknown>,
    private readonly kind: string,
    /** The version of the state being read (see open). */
    readonly version = 0,
  ) {}

  /**
   * A reader of `state`, which must be a `kind` state of a version in [oldest, newest]: a
   * device that can still read its older states says how old (the default: only `newest`).
   */
  static open(state: DeviceState, kind: string, newest: number, oldest = newest): StateReader {
    const version = typeof state === 'object' && state !== null ? state.version : undefined;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < oldest || version > newest) {
      throw new DeviceStateError(`${kind}: unsupported saved state version ${String(version)}`);
    }
    return new StateReader(state, kind, version);
  }

  private fail(name: string, expected: string): never {
    throw new DeviceStateError(`${this.kind}: saved field "${name}" is not ${expected}`);
  }

  /** An integer in [0, max]. */
  uint(name: string, max = 0xffff_ffff): number {
    const value = this.state[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
      this.fail(name, `an integer in 0..${max}`);
    }
    return value;
  }

  bool(name: string): boolean {
    const value = this.state[name];
    if (typeof value !== 'boolean') this.fail(name, 'a boolean');
    return value;
  }

  /** A value saved with u64State. */
  u64(name: string): bigint {
    const value = this.state[name];
    if (typeof value !== 'string' || !/^\d{1,20}$/.test(value) || BigInt(value) >= 1n << 64n) {
      this.fail(name, 'an unsigned 64-bit decimal string');
    }
    return BigInt(value);
  }

  /** A value saved with u64State, or null (a value not set yet). */
  u64OrNull(name: string): bigint | null {
    return this.state[name] === null ? null : this.u64(name);
  }

  /** An array of exactly `length` values saved with u64State. */
  u64s(name: string, length: number): bigint[] {
    const value = this.state[name];
    if (!Array.isArray(value) || value.length !== length) this.fail(name, `an array of ${length} unsigned 64-bit decimal strings`);
    return value.map((_, i) => new StateReader(value as unknown as Record<string, unknown>, `${this.kind}.${name}`).u64(String(i)));
  }

  /** An array of integers in [0, max], at most `maxLength` long (exactly, if `exact`). */
  uints(name: string, max: number, maxLength: number, exact = false): number[] {
    const value = this.state[name];
    if (!Array.isArray(value) || value.length > maxLength || (exact && value.length !== maxLength) ||
        !value.every((n) => Number.isInteger(n) && n >= 0 && n <= max)) {
      this.fail(name, `an array of ${exact ? '' : 'at most '}${maxLength} integers in 0..${max}`);
    }
    return value as number[];
  }

  /** An array of bytes, at most `maxLength` long. */
  bytes(name: string, maxLength: number): Uint8Array {
    return Uint8Array.from(this.uints(name, 0xff, maxLength));
  }

  /** An array of `length` entries (or any length if omitted), each read by `item`. */
  list<T>(name: string, item: (entry: StateReader) => T, length?: number): T[] {
    const value = this.state[name];
    if (!Array.isArray(value) || (length !== undefined && value.length !== length)) {
      this.fail(name, length === undefined ? 'an array' : `an array of ${length} entries`);
    }
    return value.map((entry: unknown, i: number) => {
      const where = `${this.kind}.${name}[${i}]`;
      if (typeof entry !== 'object' || entry === null) throw new DeviceStateError(`${where} is not a record`);
      return item(new StateReader(entry as Record<string, unknown>, where));
    });
  }

  /** A plain record of named fields inside this state. */
  record(name: string): StateReader {
    const value = this.state[name];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(name, 'a record');
    return new StateReader(value as Record<string, unknown>, `${this.kind}.${name}`);
  }

  /** A nested device state (a virtio device's own state inside its transport's). */
  nested(name: string): DeviceState {
    const value = this.state[name];
    if (typeof value !== 'object' || value === null || typeof (value as DeviceState).version !== 'number') {
      this.fail(name, 'a saved device state');
    }
    return value as DeviceState;
  }
}
