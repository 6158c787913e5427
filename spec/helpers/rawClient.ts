/**
 * A bare protocol client over a real socket, for integration specs: it sends
 * exactly the bytes a spec asks for and hands back every message the server
 * sends, in order, so a spec can count replies and see errors and closes.
 */
import { connect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as connectTls, type TLSSocket } from 'node:tls';
import { FrameDecoder, MAX_REPLY_FRAME_BYTES } from '../../lib/framing.js';
import {
  type ClientMessage,
  type Credential,
  decodeServerMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type ReceivedServerMessage,
  type Welcome,
} from '../../lib/protocol.js';

export class RawClient {
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder(MAX_REPLY_FRAME_BYTES);
  readonly #inbox: ReceivedServerMessage[] = [];
  #waiter: (() => void) | undefined;
  #ended = false;
  /** Resolves when the server has closed its side (or the socket is gone). */
  readonly ended: Promise<void>;
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      const { frames, error } = this.#decoder.push(chunk);
      if (error) socket.destroy(error);
      for (const frame of frames) this.#inbox.push(decodeServerMessage(frame));
      this.#wake();
    });
    socket.on('error', () => {});
    this.ended = new Promise<void>((resolve) =>
      socket.once('end', resolve).once('close', () => resolve()),
    ).then(() => {
      this.#ended = true;
      this.#wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects to `host`, from `localAddress` when given (127.0.0.2 is another loopback address). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      // Like a real client, it closes its side once the server has closed its own.
      const socket = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /**
   * Connects over TLS (issue #14), with `options` (its CA, certificate,
   * local address...); resolves once the TLS handshake is done.
   */
  static connectTls(port: number, options: ConnectionOptions): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket: TLSSocket = connectTls({ host: '127.0.0.1', port, ...options });
      socket.once('secureConnect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** The socket, for what a spec asks of it (its TLS certificate, say). */
  get socket(): Socket {
    return this.#socket;
  }

  /** Connects and completes the handshake, saying who the client is when given `auth` (issue #14). */
  static async greeted(
    port: number,
    auth?: Credential,
  ): Promise<{ client: RawClient; welcome: Welcome }> {
    const client = await RawClient.connect(port);
    try {
      client.send({ type: 'hello', version: PROTOCOL_VERSION, ...(auth ? { auth } : {}) });
      const welcome = await client.next();
      if (welcome.type !== 'welcome')
        throw new Error(`expected a welcome, got ${JSON.stringify(welcome)}`);
      return { client, welcome };
    } catch (err) {
      // The caller never gets this client to close.
      client.destroy();
      throw err;
    }
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  send(...messages: ClientMessage[]): void {
    this.#socket.write(Buffer.concat(messages.map(encodeMessage)));
  }

  sendBytes(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  /** The next message from the server; rejects if none comes within `timeoutMs` or the server closes first. */
  async next(timeoutMs = 5_000): Promise<ReceivedServerMessage> {
    const [message] = await this.take(1, timeoutMs);
    return message as ReceivedServerMessage;
  }

  /** The next `count` messages, in order. */
  async take(count: number, timeoutMs = 5_000): Promise<ReceivedServerMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inbox.length < count) {
      if (this.#ended) {
        throw new Error(`the server closed after ${this.#inbox.length} of ${count} messages`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.#inbox.length} of ${count} messages`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#inbox.splice(0, count);
  }

  /** Every message received until the server closed its side. */
  async rest(timeoutMs = 5_000): Promise<ReceivedServerMessage[]> {
    await Promise.race([
      this.ended,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the server did not close')), timeoutMs).unref(),
      ),
    ]);
    return this.#inbox.splice(0);
  }

  /** Half-closes: the client will send nothing more, but still reads. */
  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
