// The renderer is served from hangar://app/ (not file://): a standard, secure origin of its
// own, with the Content-Security-Policy sent as a header. The page talks to the engine over
// IPC only, so it may open no connections at all.
import { contentSecurityPolicy, contentType, fileUnder } from '../engine/api/web-content.ts';

export const SCHEME = 'hangar';
const HOST = 'app';
export const APP_URL = `${SCHEME}://${HOST}/index.html`;
export const CONTENT_SECURITY_POLICY = contentSecurityPolicy("'none'");

/** The file for a hangar:// URL and its type, or undefined (another host, a path that climbs out). */
export function rendererFile(url: string, distDir: string): { path: string; type: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== `${SCHEME}:` || parsed.host !== HOST) return undefined;
  const path = fileUnder(distDir, parsed.pathname);
  return path ? { path, type: contentType(path) } : undefined;
}
