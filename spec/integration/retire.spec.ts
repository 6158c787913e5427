/**
 * Retiring behind a load balancer (issue #15): the server says it is not
 * ready while it still serves newcomers, for the ready grace, then drains as
 * a shutdown does. Real sockets on 127.0.0.1, a real pool, real actors.
 */
import { expect } from 'chai';
import { type RunningServer, type ServerSettings, startServer } from '../../actors/server.js';
import { LOAD_MS, SLOW_LOADING_WORKER_URL } from '../fixtures/faults.js';
import { Peers } from '../helpers/peers.js';
import { until } from '../helpers/wait.js';

const SETTINGS: ServerSettings = {
  host: '127.0.0.1',
  port: 0,
  threads: 1,
  seed: 5,
  readyGraceMs: 500,
  httpPort: 0,
};

describe('integration: retiring behind a load balancer', function () {
  this.timeout(20_000);
  let server: RunningServer;
  const peers = new Peers();

  beforeEach(async () => {
    server = await startServer(SETTINGS);
  });

  afterEach(async () => {
    peers.closeAll();
    await server.stop();
  });

  /** GET on the server's HTTP port: the status and the body. */
  async function get(path: string): Promise<{ status: number; body: string }> {
    const response = await fetch(`http://127.0.0.1:${server.httpPort}${path}`);
    return { status: response.status, body: (await response.text()).trim() };
  }

  it('is ready once it listens with a live sensor worker, and /healthz and /readyz say so', async () => {
    expect(server.readiness()).to.deep.equal({ ready: true });
    expect(await get('/healthz')).to.deep.equal({ status: 200, body: 'ok' });
    expect(await get('/readyz')).to.deep.equal({ status: 200, body: '{"ready":true}' });
  });

  it('answers /readyz with 503 no-sensor-worker while no sensor thread has loaded, and 200 once one has', async () => {
    await server.stop();
    server = await startServer({ ...SETTINGS, workerUrl: SLOW_LOADING_WORKER_URL });
    const [thread] = server.sensors.threads;
    if (thread === undefined) throw new Error('the pool has no thread');
    await thread.terminate();
    // Piscina has started a replacement at once: a thread, but one that takes LOAD_MS to load.
    expect(server.sensors.threads).to.have.length(1);
    expect(await get('/readyz')).to.deep.equal({
      status: 503,
      body: '{"ready":false,"reason":"no-sensor-worker"}',
    });
    await until(() => server.readiness().ready, 'the replacement loads', LOAD_MS * 10);
    expect(await get('/readyz')).to.deep.equal({ status: 200, body: '{"ready":true}' });
  });

  it('answers /readyz with 503 and the reason as soon as it retires', async () => {
    const retired = server.retire();
    expect(await get('/readyz')).to.deep.equal({
      status: 503,
      body: '{"ready":false,"reason":"retiring"}',
    });
    expect((await get('/healthz')).status, 'still alive').to.equal(200);
    await retired;
  });

  it('says it is not ready for the grace while it still serves a newcomer, then drains', async () => {
    const { client: before } = await peers.greeted(server.port);
    const retired = server.retire();
    expect(server.readiness()).to.deep.equal({ ready: false, reason: 'retiring' });

    const { client: newcomer } = await peers.greeted(server.port);
    newcomer.send({ type: 'read', id: 1, reading: 'pressure' });
    expect(await newcomer.next()).to.have.property('type', 'reading');

    await until(
      () => !server.actor.getSnapshot().matches('retiring'),
      'the grace to pass and the drain to start',
    );
    for (const client of [before, newcomer]) {
      const last = (await client.rest()).at(-1);
      expect(last).to.deep.include({ type: 'error', code: 'ERR_SHUTTING_DOWN', id: null });
    }
    await retired;
    expect(server.readiness()).to.deep.equal({ ready: false, reason: 'stopped' });
  });

  it('drains at once when stopped during the grace', async () => {
    const retired = server.retire();
    const stopped = server.stop();
    expect(server.actor.getSnapshot().matches('retiring')).to.equal(false);
    await Promise.all([retired, stopped]);
  });
});
