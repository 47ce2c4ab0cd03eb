// Downloads from the Debian mirror: every byte counted (progress) and hashed on the way, the
// SHA256 and size checked against the signed index before anything is kept, and the AbortSignal
// honoured mid-transfer. A file is written beside its final name (engine/common/atomic-file)
// and renamed only once verified, so an interrupted download never leaves a file that looks
// complete.
import { createHash } from 'node:crypto';
import { writeAtomic } from '../common/atomic-file.ts';
import { GuestError, HttpError, MismatchError } from './errors.ts';

export interface Expected { sha256: string; size: number }

export interface TransferOptions {
  signal?: AbortSignal;
  /** Bytes received so far and the total (when known). */
  onProgress?: (done: number, total: number | undefined) => void;
}

async function* get(url: string, { signal, onProgress }: TransferOptions, expectedSize?: number): AsyncGenerator<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    const cause = (err as Error & { cause?: Error }).cause;
    throw new GuestError(`${url}: ${cause?.message ?? (err as Error).message}`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new HttpError(url, response.status, response.statusText);
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  const total = expectedSize ?? (Number.isFinite(length) ? length : undefined);
  let done = 0;
  onProgress?.(0, total);
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    done += chunk.length;
    if (expectedSize !== undefined && done > expectedSize) {
      throw new MismatchError(`${url}: longer than the ${expectedSize} bytes the signed index gives`);
    }
    onProgress?.(done, total);
    yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

function check(url: string, expected: Expected, size: number, sha256: string): void {
  if (size !== expected.size) throw new MismatchError(`${url}: ${size} bytes, the signed index gives ${expected.size}`);
  if (sha256 !== expected.sha256) throw new MismatchError(`${url}: SHA256 ${sha256}, the signed index gives ${expected.sha256}`);
}

/** Fetches a small file into memory; verified when `expected` is given. */
export async function fetchBuffer(url: string, options: TransferOptions, expected?: Expected): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of get(url, options, expected?.size)) chunks.push(chunk);
  const data = Buffer.concat(chunks);
  if (expected) check(url, expected, data.length, createHash('sha256').update(data).digest('hex'));
  return data;
}

/** Downloads to `path` (atomically: a verified file or nothing). */
export async function downloadFile(url: string, path: string, expected: Expected, options: TransferOptions): Promise<void> {
  await writeAtomic(path, async (file) => {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of get(url, options, expected.size)) {
      hash.update(chunk);
      size += chunk.length;
      await file.write(chunk);
    }
    check(url, expected, size, hash.digest('hex'));
  });
}
