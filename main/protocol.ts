// The renderer is served from hangar://app/ (not file://): a standard, secure origin of its
// own, with the Content-Security-Policy sent as a header. Which file a URL names is decided
// here; nothing outside the built renderer is ever served.
import { extname, join, resolve, sep } from 'node:path';

export const SCHEME = 'hangar';
const HOST = 'app';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // xterm.js sizes its rows with a <style> element of its own.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** The file for a hangar:// URL and its type, or undefined (another host, a path that climbs out). */
export function rendererFile(url: string, distDir: string): { path: string; type: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== `${SCHEME}:` || parsed.host !== HOST) return undefined;
  let pathname: string;
  try {
    pathname = decodeURIComponent(parsed.pathname);
  } catch {
    return undefined;
  }
  const root = resolve(distDir);
  const path = resolve(join(root, pathname === '/' ? 'index.html' : pathname));
  if (!path.startsWith(root + sep)) return undefined;
  return { path, type: TYPES[extname(path)] ?? 'application/octet-stream' };
}

export const APP_URL = `${SCHEME}://${HOST}/index.html`;
