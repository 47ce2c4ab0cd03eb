// Bootstrap for worker threads whose code is TypeScript: registers tsx's loader in the new
// thread (loader hooks are per thread in Node 20), then runs the module named in workerData.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
