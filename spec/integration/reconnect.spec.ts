/**
 * A client kept polling through a server restart: it reports the shutdown,
 * retries with backoff while nothing listens, reconnects by itself, and its
 * later polls succeed.
 */
import { expect } from 'chai';
import { type RunningServer, startServer } from '../../actors/acceptor.js';
import { runClient } from '../../actors/client.js';
import { until } from '../helpers/wait.js';

describe('integration: a client through a server restart', function () {
  this.timeout(30_000);
  let server: RunningServer | undefined;

  afterEach(async () => {
    await server?.stop();
  });

  it('reconnects by itself and polls again once the server is back', async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, threads: 1, seed: 1 });
    const { port } = server;
    const polls: string[] = [];
    const news: string[] = [];
    const client = runClient(
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

    server = await startServer({ host: '127.0.0.1', port, threads: 1, seed: 1 });
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
});
