// The Electron main process's entry. The engine and this shell are TypeScript run through
// tsx's loader, as the `hangar` command is (the repository works straight after npm install).
import { register } from 'tsx/esm/api';

register();
await import('./app.ts');
