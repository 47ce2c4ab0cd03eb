// The CPU suite again, with the translator compiling every block at its first run (JIT
// threshold 1): each instruction test then runs its program as compiled WebAssembly blocks,
// falling back to the interpreter only for what jit.ts leaves to it (system, atomics, floating
// point, fences). The files: support/suite.ts.
import { describeMachineSuite } from './support/suite.ts';

process.env.HANGAR_TEST_JIT_THRESHOLD = '1';
describeMachineSuite('translated (JIT threshold 1)');
