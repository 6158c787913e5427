/**
 * A client kept polling through a server restart: it reports the shutdown,
 * retries with backoff while nothing listens, reconnects by itself, and its
 * later polls succeed. And a client whose connection the server closes for
 * being idle connects again when its next poll is due, not before.
 */
import { expect } from 'chai';
import { type RunningClient, runClient } from '../../actors/client.js';
import { type RunningServer, type ServerSettings, startServer } from '../../actors/server.js';
import { MeteoError } from '../../lib/errors.js';
import { sleep, until } from '../helpers/wait.js';

/**
 * Starts a server on `port` again. The port is free from the moment the old
 * server closed, and any process on the machine may be handed it meanwhile
 * (Node cannot keep a port without listening on it). A holder that lets it
 * go soon is waited out; one that keeps it fails the spec with
 * ERR_ADDRESS_IN_USE, which says what happened.
 */
async function restartOn(port: number, settings: Omit<ServerSettings, 'port'>) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await startServer({ ...settings, port });
    } catch (err) {
      const inUse = err instanceof MeteoError && err.code === 'ERR_ADDRESS_IN_USE';
      if (!inUse || Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

describe('integration: a client reconnecting', function () {
  this.timeout(30_000);
  let server: RunningServer | undefined;
  let client: RunningClient | undefined;

  afterEach(async () => {
    // Left running, the client would retry for ever once the server is gone.
    client?.stop();
    await client?.finished;
    await server?.stop();
    client = undefined;
    server = undefined;
  });

  it('reconnects by itself and polls again once the server is back', async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, threads: 1, seed: 1 });
    const { port } = server;
    const polls: string[] = [];
    const news: string[] = [];
    client = runClient(
      {
        host: '127.0.0.1',
        port,
        pollIntervalMs: 50,
        connections: 2,
        count: 0,
        json: true,
        reconnectInitialMs: 50,
        reconnectMaxMs: 200,
      },
      { out: (line) => polls.push(line), err: (line) => news.push(line) },
    );
    await until(() => polls.length >= 4, 'polls before the restart');

    await server.stop();
    server = undefined;
    await until(
      () => news.filter((line) => line.includes('disconnected')).length >= 4,
      'failed retries',
    );
    const pollsWhileDown = polls.length;

    server = await restartOn(port, { host: '127.0.0.1', threads: 1, seed: 1 });
    await until(() => polls.length >= pollsWhileDown + 4, 'polls after the restart');
    client.stop();
    expect(await client.finished).to.equal(0);

    for (const connection of [1, 2]) {
      const mine = news.filter((line) => line.startsWith(`[${connection}]`));
      expect(
        mine.some((line) => line.includes('ERR_SHUTTING_DOWN')),
        'the shutdown is reported',
      ).to.equal(true);
      expect(
        mine.some((line) => line.includes('ERR_CONNECT_FAILED')),
        'failed retries are reported',
      ).to.equal(true);
      expect(
        mine.some((line) => line.includes(' reconnected to ')),
        'the reconnect is reported',
      ).to.equal(true);
    }
    for (const line of polls.slice(pollsWhileDown)) {
      const poll = JSON.parse(line);
      for (const key of ['minTemperature', 'maxTemperature', 'pressure', 'rainfall'])
        expect(poll[key]).to.be.a('number');
    }
  });

  // Issue #16 item 10: with a poll period past the server's idle timeout, each
  // idle close made the client reconnect and poll at once.
  it('polls no more often than asked: it connects again when a poll is due, not when the server closes', async () => {
    const IDLE_TIMEOUT_MS = 1_000;
    const POLL_INTERVAL_MS = 1_600;
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      seed: 1,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
    });
    const pollTimes: number[] = [];
    const news: string[] = [];
    client = runClient(
      {
        host: '127.0.0.1',
        port: server.port,
        pollIntervalMs: POLL_INTERVAL_MS,
        connections: 1,
        count: 3,
        json: true,
      },
      { out: () => pollTimes.push(Date.now()), err: (line) => news.push(line) },
    );
    expect(await client.finished).to.equal(0);
    expect(pollTimes).to.have.length(3);
    for (let i = 1; i < pollTimes.length; i++) {
      const gap = (pollTimes[i] as number) - (pollTimes[i - 1] as number);
      expect(gap, `poll ${i + 1} after poll ${i}`).to.be.at.least(POLL_INTERVAL_MS - 50);
    }
    const idleNotes = news.filter((line) => line.includes('ERR_IDLE_TIMEOUT'));
    expect(idleNotes, news.join('\n')).to.have.length(1);
    expect(news.filter((line) => line.includes('disconnected'))).to.deep.equal([]);
  });
});
