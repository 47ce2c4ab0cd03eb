// Child process of the crash test: writes a deterministic stream of operations through the qcow2
// layer, flushing every FLUSH_EVERY operations and reporting "flushed N" (N operations durable)
// on stdout after each flush. It runs until it is killed.
// usage: node --import tsx crash-writer.ts IMAGE SEED
import { openDisk } from '../../../../engine/storage/index.ts';
import { applyOp } from '../../../unit/storage/support/workload.ts';
import { crashOps, FLUSH_EVERY } from './crash-ops.ts';

const [path, seedText] = process.argv.slice(2);
// A cache of eight L2 tables: dirty tables are evicted (written) between flushes too.
const disk = openDisk(path!, { cacheBytes: 8 * 4096 });
const ops = crashOps(Number(seedText), disk.size);
process.stdout.write('ready\n');
ops.forEach((op, i) => {
  applyOp(disk, op);
  if ((i + 1) % FLUSH_EVERY === 0) {
    disk.flush();
    process.stdout.write(`flushed ${i + 1}\n`);
  }
});
process.stdout.write('done\n');
setInterval(() => {}, 1000); // wait for the kill, like a VM that is still running
