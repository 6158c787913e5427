/**
 * A real browser for the live view's specs and screenshots (issue #13):
 * Debian's Chromium, driven by playwright-core, never a browser downloaded
 * by npm (none can be, here). A fresh profile each time, removed on close.
 *
 * When Chromium is missing or cannot start, `openBrowser` throws, naming
 * what to install: the specs then fail loudly rather than skip.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser; METEO_CHROMIUM names another. */
export const CHROMIUM = process.env['METEO_CHROMIUM'] ?? '/usr/bin/chromium';

/** Flags for a browser that talks to nothing but the pages it is sent to. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Closes the browser and removes its profile; idempotent. */
  close(): Promise<void>;
}

/** Starts Chromium with a fresh profile and one page of `width`×`height`. */
export async function openBrowser(
  viewport: { width: number; height: number } = { width: 1400, height: 1000 },
): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium), or set METEO_CHROMIUM`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), 'meteo-chromium-'));
  let context: BrowserContext;
  try {
    // The profile is given as Playwright wants it (launchPersistentContext),
    // which passes it to Chromium as --user-data-dir.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport,
      timeout: 60_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  let closing: Promise<void> | undefined;
  return {
    page,
    context,
    close() {
      closing ??= (async () => {
        await context.close().catch(() => {});
        rmSync(profile, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
