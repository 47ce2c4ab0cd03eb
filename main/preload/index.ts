// The preload (sandboxed, context-isolated): exposes the service API and nothing else.
// Bundled to main/dist/preload.cjs by main/build-preload.mjs.
import { contextBridge, ipcRenderer } from 'electron';
import { exposeApi } from './expose.ts';

exposeApi(contextBridge, ipcRenderer);
