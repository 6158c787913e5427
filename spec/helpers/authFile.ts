/** An auth file (issue #14) for specs whose server requires its clients to say who they are. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The one client the file lets in. */
export const KIOSK = { name: 'kiosk', secret: 'kiosk-secret-0123456789' } as const;

/** Writes a file that lets KIOSK in, in a folder of its own; `remove` deletes both. */
export function kioskAuthFile(): { readonly path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'meteo-auth-'));
  const path = join(dir, 'auth');
  writeFileSync(path, `${KIOSK.name}:${KIOSK.secret}\n`, { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
