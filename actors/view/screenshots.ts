/**
 * `npm run screenshots`: a picture of the live view under load for the
 * README (issue #13), made by a script rather than by hand, so that it can
 * be made again whenever the page changes: docs/live-view.png.
 *
 * A server with three stations and 300 polling connections, a few more that
 * never say hello, the page in Chromium (actors/view/browser.ts), one
 * connection followed in detail. The stations' clock runs 600 times fast
 * (ten minutes of weather a second), so that half a minute of sampling
 * draws a few hours of readings, where real time would draw a flat line:
 * the readings change once a minute.
 */
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SIMULATED } from '../../lib/sensors/sources.js';
import { STATIONS, type Station } from '../../lib/sensors/station.js';
import { type RunningClient, runClient } from '../client.js';
import { type RunningServer, startServer } from '../server.js';
import { type Browser, openBrowser } from './browser.js';
import type { ViewFigures } from './protocol.js';

const OUTPUT = fileURLToPath(new URL('../../../docs/live-view.png', import.meta.url));
const POLLING = 300;
const SILENT = 12;
const CLOCK_SPEED = 600;
const SAMPLE_MS = 1_000;
const SAMPLING_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  const start = Date.now();
  let server: RunningServer | undefined;
  let poller: RunningClient | undefined;
  let browser: Browser | undefined;
  const silent: Socket[] = [];
  try {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 2,
      seed: 1,
      httpPort: 0,
      stations: ['seattle', 'singapore', 'reykjavik'].map((id) => ({
        station: STATIONS[id] as Station,
        source: SIMULATED,
      })),
      now: () => start + (Date.now() - start) * CLOCK_SPEED,
      view: { sampleMs: SAMPLE_MS },
      // The silent ones stay in the handshake for the picture, rather than being closed at 5 s.
      handshakeTimeoutMs: 120_000,
    });
    poller = runClient(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: 100,
        connections: POLLING,
        count: 0,
        json: true,
      },
      { out: () => {}, err: () => {} },
    );
    const port = server.port;
    // A few that connect and say nothing: they sit in the handshake.
    for (let i = 0; i < SILENT; i++) silent.push(connect({ host: '127.0.0.1', port }));
    browser = await openBrowser({ width: 1500, height: 1000 });
    const { page } = browser;
    await page.goto(`http://127.0.0.1:${server.httpPort}/`);
    await page.waitForSelector('#charts [data-machine="client"] svg', { timeout: 60_000 });
    await page.click('#table tbody tr[data-n="42"]');
    await sleep(SAMPLING_MS);
    const figures = (await page.evaluate(
      () => (globalThis as unknown as { meteoView: ViewFigures }).meteoView,
    )) as ViewFigures;
    await page.locator('#detail').scrollIntoViewIfNeeded();
    await page.evaluate(() =>
      (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0),
    );
    // The top of the page: counts, pool, readings, the tiles and the connection followed.
    const detail = await page.locator('#detail').boundingBox();
    const height = Math.min(2_400, Math.ceil((detail?.y ?? 1_600) + (detail?.height ?? 0)));
    await page.screenshot({
      path: OUTPUT,
      fullPage: true,
      clip: { x: 0, y: 0, width: 1500, height },
    });
    process.stdout.write(
      `wrote ${OUTPUT}: ${figures.open} connections, ${figures.samples} samples\n`,
    );
  } finally {
    await browser?.close();
    poller?.stop();
    for (const socket of silent) socket.destroy();
    await server?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`screenshots: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
