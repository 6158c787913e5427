/**
 * A stand-in for a browser with the live view open (issue #13), for the
 * benchmark's `+page` configurations: it opens the feed's WebSocket as the
 * page does, reads and parses every message as the page does, and follows
 * one connection in detail, as a user who clicked a tile. What it costs the
 * server is what a page costs; its own work is the load generator's.
 */
import WebSocket from 'ws';
import { FEED_PATH } from '../actors/view/protocol.js';

export interface LivePageFigures {
  /** Messages received, and their bytes. */
  readonly messages: number;
  readonly bytes: number;
  /** The longest wait between two messages while attached, ms: the page's staleness. */
  readonly maxGapMs: number;
}

export class LivePage {
  readonly #socket: WebSocket;
  #messages = 0;
  #bytes = 0;
  #last = 0;
  #maxGap = 0;
  readonly opened: Promise<void>;

  constructor(host: string, port: number, follow: number) {
    this.#socket = new WebSocket(`ws://${host}:${port}${FEED_PATH}`, { perMessageDeflate: false });
    this.opened = new Promise((resolve, reject) => {
      this.#socket.once('open', () => {
        this.#socket.send(JSON.stringify({ type: 'watch', n: follow }));
        resolve();
      });
      this.#socket.once('error', reject);
    });
    this.#socket.on('error', () => {});
    this.#socket.on('message', (data: Buffer) => {
      const now = performance.now();
      if (this.#last > 0) this.#maxGap = Math.max(this.#maxGap, now - this.#last);
      this.#last = now;
      this.#messages++;
      this.#bytes += data.length;
      JSON.parse(String(data));
    });
  }

  figures(): LivePageFigures {
    return { messages: this.#messages, bytes: this.#bytes, maxGapMs: Math.round(this.#maxGap) };
  }

  close(): void {
    this.#socket.terminate();
  }
}
