// sha256 digests as the OCI specs write them ("sha256:" + 64 hex digits), and a hashing pass
// that counts bytes on the way through.
import { createHash, type Hash } from 'node:crypto';
import { InvalidImageError } from './errors.ts';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Checks a digest taken from untrusted input (manifest, archive, registry) before it names a file. */
export function checkDigest(digest: unknown, what: string): string {
  if (typeof digest !== 'string' || !DIGEST.test(digest)) {
    throw new InvalidImageError(`${what}: "${String(digest)}" is not a sha256 digest (only sha256 is supported)`);
  }
  return digest;
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export const digestHex = (digest: string): string => digest.slice('sha256:'.length);

/** Hashes and counts the chunks of a stream as they pass through it. */
export class DigestCounter {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }

  async *pass(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      this.update(chunk);
      yield chunk;
    }
  }
}
