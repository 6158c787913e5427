/**
 * The one thing a connection actor needs from the outside: a byte stream to
 * its peer. In production it is a `net.Socket` (or a `tls.TLSSocket`); a spec
 * hands in any Duplex.
 */
import type { Duplex } from 'node:stream';

export interface Transport {
  readonly stream: Duplex;
  /** The peer, as logs show it ("127.0.0.1:50412"). */
  readonly peer: string;
}

/** A stream and its peer; shown as its peer alone when serialised (to the inspector, to logs). */
class StreamTransport implements Transport {
  constructor(
    readonly stream: Duplex,
    readonly peer: string,
  ) {}

  toJSON(): { peer: string } {
    return { peer: this.peer };
  }
}

export function transport(stream: Duplex, peer: string): Transport {
  return new StreamTransport(stream, peer);
}
