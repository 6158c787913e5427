/**
 * The clients an integration spec opens against its server, so that
 * afterEach closes every one of them, whatever the test did or where it
 * failed.
 */

import { type RunningClient, runClient } from '../../actors/client.js';
import type { Welcome } from '../../lib/protocol.js';
import { RawClient } from './rawClient.js';

export class Peers {
  readonly #clients: RawClient[] = [];
  readonly #pollers: RunningClient[] = [];

  /** A raw client connected to `port`. */
  async connect(port: number): Promise<RawClient> {
    const client = await RawClient.connect(port);
    this.#clients.push(client);
    return client;
  }

  /** A raw client connected to `port` that has said hello and been welcomed. */
  async greeted(port: number): Promise<{ client: RawClient; welcome: Welcome }> {
    const greeted = await RawClient.greeted(port);
    this.#clients.push(greeted.client);
    return greeted;
  }

  /** The product's client (`runClient`), polling. */
  poll(...args: Parameters<typeof runClient>): RunningClient {
    const poller = runClient(...args);
    this.#pollers.push(poller);
    return poller;
  }

  /** Stops every poller (one left polling would retry for ever once the server is gone) and destroys every raw client. */
  closeAll(): void {
    for (const poller of this.#pollers.splice(0)) poller.stop();
    for (const client of this.#clients.splice(0)) client.destroy();
  }
}
