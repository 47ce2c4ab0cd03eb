// Argument schemas for the service API: each describes one value, checks an unknown value
// against it (naming the offending field in the error), and gives its TypeScript type through
// Infer<>. Small on purpose: the API's arguments are plain records of strings, numbers,
// booleans, arrays and bytes, and the same file is bundled into the preload and the renderer.

import { HangarError } from '../common/errors.ts';

/** An argument that does not match its schema (invalid-argument). */
export class ValidationError extends HangarError {
  override name = 'ValidationError';
  constructor(message: string) {
    super('invalid-argument', message);
  }
}

export interface Schema<T> {
  /** What is expected, for error messages ("a string", "one of none, host"). */
  readonly expected: string;
  /** An object field that may be left out (or given as undefined). */
  readonly optional?: boolean;
  /** The value, checked; throws ValidationError naming `path` otherwise. */
  check(value: unknown, path: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function fail(path: string, expected: string, value: unknown): never {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : value instanceof Uint8Array ? 'bytes' : typeof value;
  throw new ValidationError(`${path}: expected ${expected}, got ${got}`);
}

function schema<T>(expected: string, check: (value: unknown, path: string) => T): Schema<T> {
  return { expected, check };
}

export function string(options: { min?: number; max?: number; pattern?: RegExp; patternHint?: string } = {}): Schema<string> {
  const { min = 0, max = 4096, pattern, patternHint } = options;
  return schema(min > 0 ? 'a non-empty string' : 'a string', (value, path) => {
    if (typeof value !== 'string') fail(path, 'a string', value);
    if (value.length < min) throw new ValidationError(min === 1 ? `${path}: must not be empty` : `${path}: must be at least ${min} characters`);
    if (value.length > max) throw new ValidationError(`${path}: must be at most ${max} characters`);
    if (pattern && !pattern.test(value)) throw new ValidationError(`${path}: "${value}" is not ${patternHint ?? `of the form ${pattern}`}`);
    return value;
  });
}

function numeric(integer: boolean, { min = -Infinity, max = Infinity }: { min?: number; max?: number }): Schema<number> {
  const expected = integer ? 'a whole number' : 'a number';
  return schema(expected, (value, path) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) fail(path, expected, value);
    if (value < min) throw new ValidationError(`${path}: must be at least ${min}`);
    if (value > max) throw new ValidationError(`${path}: must be at most ${max}`);
    return value;
  });
}

export const integer = (range: { min?: number; max?: number } = {}) => numeric(true, range);
export const number = (range: { min?: number; max?: number } = {}) => numeric(false, range);

export const boolean = (): Schema<boolean> =>
  schema('true or false', (value, path) => (typeof value === 'boolean' ? value : fail(path, 'true or false', value)));

export const bytes = (max = 16 << 20): Schema<Uint8Array> =>
  schema('bytes', (value, path) => {
    if (!(value instanceof Uint8Array)) fail(path, 'bytes', value);
    if (value.length > max) throw new ValidationError(`${path}: more than ${max} bytes`);
    return value;
  });

export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  const expected = `one of ${values.join(', ')}`;
  return schema(expected, (value, path) => ((values as readonly unknown[]).includes(value) ? (value as T[number]) : fail(path, expected, value)));
}

export function array<T>(item: Schema<T>, { max = 1024 }: { max?: number } = {}): Schema<T[]> {
  return schema(`a list of ${item.expected}`, (value, path) => {
    if (!Array.isArray(value)) fail(path, `a list of ${item.expected}`, value);
    if (value.length > max) throw new ValidationError(`${path}: more than ${max} entries`);
    return value.map((v, i) => item.check(v, `${path}[${i}]`));
  });
}

export function optional<T>(inner: Schema<T>): Schema<T | undefined> & { optional: true } {
  return {
    expected: inner.expected,
    optional: true,
    check: (value, path) => (value === undefined ? undefined : inner.check(value, path)),
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
type Flatten<T> = { [K in keyof T]: T[K] };
export type ObjectOf<S extends Shape> = Flatten<{ [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }>;

/** A record with exactly these fields: a missing required field or an unknown one is refused. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> & { shape: S } {
  return {
    expected: 'an object',
    shape,
    check(value, path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) fail(path, 'an object', value);
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        if (!Object.hasOwn(shape, key)) throw new ValidationError(`${path}: unknown field "${key}"`);
      }
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(shape)) {
        // A required field's own check refuses undefined, so a missing one is named here.
        const v = field.check(record[key], path ? `${path}.${key}` : key);
        if (v !== undefined) out[key] = v;
      }
      return out as ObjectOf<S>;
    },
  };
}
