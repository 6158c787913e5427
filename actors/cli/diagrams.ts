/**
 * `npm run diagrams`: writes docs/machines.md, one Mermaid state diagram per
 * machine, drawn from the machine definitions by lib/diagram.ts (issue 6).
 * spec/lib/diagram.spec.ts regenerates the file in memory and fails when the
 * one on disk differs, so a changed machine needs this run again.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { diagramsDocument, type MachineSection } from '../../lib/diagram.js';
import { describeError } from '../../lib/errors.js';
import { acceptorMachine } from '../../machines/acceptorMachine.js';
import { clientMachine } from '../../machines/clientMachine.js';
import { connectionMachine } from '../../machines/connectionMachine.js';
import { isEntryPoint } from './program.js';

/** docs/machines.md, found from this module (dist/actors/cli/) so the working directory does not matter. */
export const MACHINES_DOC = fileURLToPath(new URL('../../../docs/machines.md', import.meta.url));

/** The machines, in the order a request meets them. */
export const MACHINE_SECTIONS: readonly MachineSection[] = [
  {
    title: 'Acceptor',
    source: 'machines/acceptorMachine.ts',
    description:
      'The server has one acceptor. It binds the listening socket (the invoked `listener` actor), ' +
      'takes each new connection and starts a connection actor for it, counts the open ones and ' +
      'turns away one over the limit. On shutdown it stops taking connections, tells the open ' +
      'ones, and waits for them to finish, up to a deadline (see [PROTOCOL.md](PROTOCOL.md)). ' +
      'Each connection actor (`connection.N`) has the acceptor as its parent and shares its ' +
      'actor system; its end arrives as XState’s `xstate.done.actor.connection.N`, or ' +
      '`xstate.error.actor.connection.N` when it failed, which is handled here: a fault in one ' +
      'connection reaches neither the acceptor nor another connection.',
    machine: acceptorMachine,
  },
  {
    title: 'Connection',
    source: 'machines/connectionMachine.ts',
    description:
      'One connection, from the server’s side, for the whole life of its socket. Requests that ' +
      'arrive while a batch is being computed or written wait in the connection’s mailbox; ' +
      'everything in it goes through `computing` (one sensor read for the lot) and `replying` ' +
      '(one write for all the replies, in request order) together, then the connection is back ' +
      'in `awaiting-request`; `replying` is left at once when the socket took the whole write, ' +
      'and waits for `SENT` when the peer is slow to read. The timeouts arrive as events from the ' +
      'connection’s watchdog timer. Bad frames, shutdown and the peer going away are handled ' +
      'whatever state the connection is in: that is the **any state** box.',
    machine: connectionMachine,
  },
  {
    title: 'Client',
    source: 'machines/clientMachine.ts',
    description:
      'One polling connection of the client. While `online` it connects, says hello, then asks ' +
      'for the four readings one at a time, reports the poll and waits for the next one. The ' +
      'first connection checks that the service works: if it cannot be made or the hello is ' +
      'refused, the machine ends in `failed`. Once the service has answered, a lost connection ' +
      'is reopened after a backoff with jitter (`reconnecting`), and polling resumes. The next ' +
      'poll is a `POLL_DUE` the machine sends itself on entering `waiting`: when the server ' +
      'closes a connection idle for longer than the poll period (`ERR_IDLE_TIMEOUT`), the ' +
      'client waits `offline` and connects again when that poll is due, so it never polls more ' +
      'often than asked.',
    machine: clientMachine,
  },
];

/** The text docs/machines.md should hold for the machines as they are now. */
export function machinesDocument(): string {
  return diagramsDocument(MACHINE_SECTIONS);
}

function main(): number {
  const document = machinesDocument();
  let current: string | null = null;
  try {
    current = readFileSync(MACHINES_DOC, 'utf8');
  } catch {
    // Not written yet.
  }
  if (current === document) {
    process.stdout.write(`${MACHINES_DOC} is up to date\n`);
    return 0;
  }
  writeFileSync(MACHINES_DOC, document);
  process.stdout.write(`wrote ${MACHINES_DOC}\n`);
  return 0;
}

// The spec imports this module for the document; only `node …/diagrams.js` writes it.
if (isEntryPoint(import.meta.url)) {
  try {
    process.exitCode = main();
  } catch (err) {
    process.stderr.write(`diagrams: ${describeError(err)}\n`);
    process.exitCode = 1;
  }
}
