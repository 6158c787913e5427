/**
 * The one thing a connection actor needs from the outside: a byte stream to
 * its peer. In production it is a `net.Socket`; a spec hands in any Duplex.
 */
import type { Duplex } from 'node:stream';

export interface Transport {
  readonly stream: Duplex;
  /** The peer, as logs show it ("127.0.0.1:50412"). */
  readonly peer: string;
}

/** Wraps a stream; the wrapper shows only its peer when serialised (to the inspector, to logs). */
export function transport(stream: Duplex, peer: string): Transport {
  return { stream, peer, toJSON: () => ({ peer }) } as Transport;
}
