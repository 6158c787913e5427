/**
 * A transparent TCP relay in front of a port that reads the protocol both
 * ways as it passes: for each connection, the ids of the reads the client
 * sent and of the replies that came back. Over every connection of a run,
 * a spec can then count how many times each request was answered, across
 * reconnects (docs/PROTOCOL.md §8.4), without trusting the client's own word.
 *
 * It forwards every byte as it came, an end as an end once the bytes before
 * it are written, and a reset or an error on one side as an end of the other.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { FrameDecoder, MAX_REPLY_FRAME_BYTES, MAX_REQUEST_FRAME_BYTES } from '../../lib/framing.js';
import { decodeClientMessage, decodeServerMessage } from '../../lib/protocol.js';

/** What went over one client connection. */
export interface TappedConnection {
  /** Ids of the reads the client sent, in order. */
  readonly requests: number[];
  /** Ids of the replies that came back (readings, and errors about one request), in order. */
  readonly replies: number[];
  /** Codes of the errors about the whole connection (id nil), such as ERR_SHUTTING_DOWN. */
  readonly connectionErrors: string[];
  /** Bytes either way that are not the protocol's: what was wrong with them. */
  readonly garbled: string[];
}

/** Decodes frames off one direction of a connection and hands each to `take`. */
function tap(socket: Socket, maxBodyBytes: number, take: (frame: Buffer) => void, into: string[]) {
  const decoder = new FrameDecoder(maxBodyBytes);
  socket.on('data', (chunk: Buffer) => {
    const { frames, error } = decoder.push(chunk);
    for (const frame of frames) {
      try {
        take(frame);
      } catch (err) {
        into.push((err as Error).message);
      }
    }
    if (error) into.push(`${error.code}: ${error.message}`);
  });
}

export class WireTap {
  readonly connections: TappedConnection[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(upstreamPort: number) {
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      const upstream = connect({
        host: '127.0.0.1',
        port: upstreamPort,
        allowHalfOpen: true,
        noDelay: true,
      });
      const tapped: TappedConnection = {
        requests: [],
        replies: [],
        connectionErrors: [],
        garbled: [],
      };
      this.connections.push(tapped);
      tap(
        client,
        MAX_REQUEST_FRAME_BYTES,
        (frame) => {
          const message = decodeClientMessage(frame);
          if (message.type === 'read') tapped.requests.push(message.id);
          else if (message.type === 'rejected') tapped.garbled.push(message.code);
        },
        tapped.garbled,
      );
      tap(
        upstream,
        MAX_REPLY_FRAME_BYTES,
        (frame) => {
          const message = decodeServerMessage(frame);
          if (message.type === 'welcome') return;
          if (message.type === 'error' && message.id === null) {
            tapped.connectionErrors.push(message.code);
          } else if (message.id !== null) tapped.replies.push(message.id);
        },
        tapped.garbled,
      );
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.#sockets.add(from);
        from.pipe(to);
        from.on('error', () => {});
        from.once('close', () => {
          this.#sockets.delete(from);
          to.end();
        });
      }
    });
  }

  /** Listens on a free loopback port, in front of 127.0.0.1:`upstreamPort`. */
  static async start(upstreamPort: number): Promise<WireTap> {
    const relay = new WireTap(upstreamPort);
    await new Promise<void>((resolve) => relay.#server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** Stops listening and destroys every connection still open. */
  close(): void {
    this.#server.close();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}
