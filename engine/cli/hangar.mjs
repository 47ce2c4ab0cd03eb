#!/usr/bin/env node
// The `hangar` command. TypeScript sources run through tsx's loader, so the repository works
// straight after `npm install` (package.json "bin" → `npx hangar`).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
