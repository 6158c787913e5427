/**
 * The live view in a real browser (issue #13): Debian's Chromium, driven by
 * playwright-core (actors/view/browser.ts), against a real server on
 * loopback. The page exposes a few figures as `window.meteoView`
 * (actors/view/page/main.ts); everything else is read off the page.
 *
 * Without Chromium these fail, saying what to install: they never skip.
 */
import { expect } from 'chai';
import type { Page, Request } from 'playwright-core';
import { type RunningClient, runClient } from '../../actors/client.js';
import { type RunningServer, type ServerSettings, startServer } from '../../actors/server.js';
import { type Browser, openBrowser } from '../../actors/view/browser.js';
import type { ViewFigures } from '../../actors/view/protocol.js';
import { KIOSK, kioskAuthFile } from '../helpers/authFile.js';
import { RawClient } from '../helpers/rawClient.js';
import { freedPort } from '../helpers/serverProcess.js';
import { sleep } from '../helpers/wait.js';

function figures(page: Page): Promise<ViewFigures> {
  // Run in the page, where `globalThis` is its window.
  return page.evaluate(
    () => (globalThis as unknown as { meteoView: ViewFigures }).meteoView,
  ) as Promise<ViewFigures>;
}

/** When the server the page talks to started, as its hello said. */
function serverStartedAt(page: Page): Promise<number> {
  return page.evaluate(
    () => (globalThis as unknown as { meteoView: ViewFigures }).meteoView.hello?.startedAt ?? 0,
  );
}

/** Waits until `test` holds of the page's figures, polling; fails naming `what`. */
async function until(
  page: Page,
  test: (figures: ViewFigures) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<ViewFigures> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await figures(page);
    if (test(now)) return now;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting until ${what}: ${JSON.stringify({ ...now, updates: now.updates.length })}`,
      );
    }
    await sleep(50);
  }
}

describe('integration: the live view in Chromium', function () {
  this.timeout(90_000);
  let browser: Browser | undefined;
  let server: RunningServer | undefined;
  const clients: RawClient[] = [];
  const pollers: RunningClient[] = [];

  afterEach(async () => {
    await browser?.close();
    browser = undefined;
    for (const poller of pollers.splice(0)) poller.stop();
    for (const client of clients.splice(0)) client.destroy();
    await server?.stop();
    server = undefined;
  });

  async function serve(httpPort = 0, more: Partial<ServerSettings> = {}): Promise<RunningServer> {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      httpPort,
      view: { sampleMs: 500 },
      ...more,
    });
    return server;
  }

  async function open(running: RunningServer): Promise<Page> {
    browser = await openBrowser();
    await browser.page.goto(`http://127.0.0.1:${running.httpPort}/`);
    await until(browser.page, (f) => f.connected, 'the page is connected');
    return browser.page;
  }

  it('shows a client connect, lights its state as it changes, and plots a reading', async () => {
    const running = await serve();
    const page = await open(running);
    // The machines are drawn, the acceptor lit where it is.
    await page.waitForSelector('#charts [data-machine="acceptor"] g.lit', { timeout: 30_000 });
    expect((await figures(page)).acceptor).to.equal('listening');

    const client = await RawClient.connect(running.port);
    clients.push(client);
    await page.waitForSelector('#table tbody tr[data-n="1"]');
    await page.click('#table tbody tr[data-n="1"]');
    await page.waitForSelector('#detail-chart[data-state="handshake"] g.lit');

    client.send({ type: 'hello', version: 1 });
    await page.waitForSelector('#detail-chart[data-state="serving.awaiting-request"] g.lit');
    client.send({ type: 'read', id: 1, reading: 'pressure' });
    await client.next();
    await page.waitForSelector('#detail-events li:has-text("read #1 pressure")');

    // A real client, polling: its connection appears, and its replies count up.
    const poller = runClient(
      {
        host: '127.0.0.1',
        port: running.port,
        pollIntervalMs: 100,
        connections: 1,
        count: 0,
        json: true,
      },
      { out: () => {}, err: () => {} },
    );
    pollers.push(poller);
    await page.waitForSelector('#table tbody tr[data-n="2"]');
    const replies = page.locator('#table tbody tr[data-n="2"] td:nth-child(6)');
    for (let tries = 0; Number(await replies.textContent()) === 0; tries++) {
      if (tries > 200) throw new Error("the poller's replies never showed");
      await sleep(50);
    }
    // The readings are sampled while the page is open, and plotted.
    const plotted = await until(
      page,
      (f) => f.plotted.some((value) => typeof value === 'number'),
      'a reading is plotted',
    );
    expect(plotted.samples).to.be.at.least(1);
    expect(await page.locator('#plots .plot canvas').count()).to.equal(4);
    expect(plotted.violations).to.deep.equal([]);
  });

  it('names the client a connection was welcomed as, in the table and in the detail (issue #14)', async () => {
    const authFile = kioskAuthFile();
    try {
      const running = await serve(0, { authFile: authFile.path });
      const page = await open(running);
      const { client } = await RawClient.greeted(running.port, KIOSK);
      clients.push(client);
      await page.waitForSelector('#table tbody tr[data-n="1"] td.client:text-is("kiosk")');
      await page.click('#table tbody tr[data-n="1"]');
      await page.waitForSelector('#detail-client:text-is("client kiosk")');
    } finally {
      authFile.remove();
    }
  });

  it('says it is disconnected while the server is down, and recovers when it is back', async () => {
    const httpPort = await freedPort();
    const first = await serve(httpPort);
    const page = await open(first);
    await page.waitForSelector('body[data-status="live"]');
    const startedBefore = await serverStartedAt(page);
    await first.stop();
    server = undefined;
    await page.waitForSelector('body[data-status="disconnected"]');
    expect(await page.textContent('#status')).to.match(/^disconnected/);

    await sleep(20);
    const second = await serve(httpPort);
    await page.waitForSelector('body[data-status="live"]', { timeout: 15_000 });
    const client = await RawClient.greeted(second.port);
    clients.push(client.client);
    await until(page, (f) => f.open === 1, 'the restarted server shows its connection');
    const startedAfter = await serverStartedAt(page);
    expect(startedAfter).to.not.equal(startedBefore);
  });

  it('makes no request to any host but the server', async () => {
    const running = await serve();
    browser = await openBrowser();
    const requests: string[] = [];
    browser.page.on('request', (request: Request) => requests.push(request.url()));
    browser.page.on('websocket', (socket) => requests.push(socket.url()));
    await browser.page.goto(`http://127.0.0.1:${running.httpPort}/`);
    await browser.page.waitForSelector('#charts [data-machine="client"] svg', { timeout: 30_000 });
    const client = await RawClient.greeted(running.port);
    clients.push(client.client);
    await until(browser.page, (f) => f.open === 1 && f.samples > 0, 'a connection and a sample');
    await browser.page.click('#table tbody tr[data-n="1"]');
    await browser.page.waitForSelector('#detail-chart g.lit');
    const origin = `127.0.0.1:${running.httpPort}`;
    expect(requests.length).to.be.above(3);
    expect(requests.filter((url) => new URL(url).host !== origin)).to.deep.equal([]);
    expect((await figures(browser.page)).violations).to.deep.equal([]);
  });

  it('stays responsive with 1,000 connections: the next update comes within 1 s', async () => {
    const running = await serve();
    for (let opened = 0; opened < 1_000; opened += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, () => RawClient.greeted(running.port)),
      );
      clients.push(...batch.map(({ client }) => client));
    }
    // Some of them busy, so that states change all the time.
    pollers.push(
      runClient(
        {
          host: '127.0.0.1',
          port: running.port,
          pollIntervalMs: 20,
          connections: 20,
          count: 0,
          json: true,
        },
        { out: () => {}, err: () => {} },
      ),
    );
    const page = await open(running);
    await until(page, (f) => f.open >= 1_000, 'the page shows the 1,000 connections', 30_000);
    // Drawing the machines is a one-off second or two of work: measure after it.
    await page.waitForSelector('#charts [data-machine="client"] svg', { timeout: 30_000 });
    await page.click('#table tbody tr[data-n="1"]');
    await page.waitForSelector('#detail-chart g.lit');
    const from = await page.evaluate(() => performance.now());
    await sleep(4_000);
    const { updates } = await figures(page);
    const to = await page.evaluate(() => performance.now());
    const times = [from, ...updates.filter((t) => t > from), to];
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(
      Math.max(...gaps),
      `gaps between updates: ${gaps.map(Math.round).join(', ')}`,
    ).to.be.below(1_000);
  });
});
