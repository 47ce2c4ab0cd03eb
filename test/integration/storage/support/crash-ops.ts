// The operations the crash writer performs, known to the test as well.
import { randomOps, type Op } from '../../../unit/storage/support/workload.ts';

export const FLUSH_EVERY = 8;
export const OPERATIONS = 4000;

/** Sector-aligned writes, zero writes and discards, as a guest's block requests are. */
export function crashOps(seed: number, size: number): Op[] {
  return randomOps(seed, size, OPERATIONS, { maxLength: 64 * 1024, sectorAligned: true });
}
