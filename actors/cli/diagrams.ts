/**
 * `npm run diagrams`: writes docs/machines.md, one Mermaid state diagram per
 * machine, drawn from the machine definitions by actors/cli/diagram.ts (issue 6).
 * spec/actors/cli/diagram.spec.ts regenerates the file in memory and fails when the
 * one on disk differs, so a changed machine needs this run again.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeError } from '../../lib/errors.js';
import { acceptorMachine } from '../../machines/acceptorMachine.js';
import { clientMachine } from '../../machines/clientMachine.js';
import { connectionMachine } from '../../machines/connectionMachine.js';
import { diagramsDocument, type MachineSection } from './diagram.js';
import { isEntryPoint } from './program.js';

/** docs/machines.md, found from this module (dist/actors/cli/) so the working directory does not matter. */
export const MACHINES_DOC = fileURLToPath(new URL('../../../docs/machines.md', import.meta.url));

/** The machines, in the order a request meets them. */
export const MACHINE_SECTIONS: readonly MachineSection[] = [
  {
    title: 'Acceptor',
    source: 'machines/acceptorMachine.ts',
    description:
      'The server’s front door. It asks the listener to bind, hands every accepted socket to ' +
      'the connection supervisor (which starts a connection actor for it, or refuses it with ' +
      '`ERR_TOO_MANY_CONNECTIONS` over the limit), and stops accepting (`paused`) while too many ' +
      'refused sockets linger, until they are gone. On shutdown it stops accepting, has the ' +
      'supervisor drain the open connections, and waits for the last to close, up to the drain ' +
      'deadline (see [PROTOCOL.md](PROTOCOL.md) §7–§8). It counts nothing and does no I/O: its ' +
      'effects (`listen`, `admit`, `drainConnections`...) are performed by actors/server.ts.',
    machine: acceptorMachine,
  },
  {
    title: 'Connection',
    source: 'machines/connectionMachine.ts',
    description:
      'One connection, from the server’s side, for the whole life of its socket: `handshake` ' +
      'until the hello is answered, `serving` while it takes requests, `draining` once it is ' +
      'ending (shutdown, the peer’s half-close, a timeout, a broken stream) and answers what it ' +
      'had received, `closing` while the last frame leaves and the peer closes, then `closed`. ' +
      'In `serving`, requests that arrive while a batch is computed or written wait in the ' +
      'connection’s mailbox; everything in it goes through `computing` (one sensor read for the ' +
      'lot, skipped when nothing needs the sensors) and `replying` (one write of all the ' +
      'replies, in request order) together. `replying` is left when the write is reported ' +
      '(`WRITTEN`) taken whole, or later on `DRAINED` when the peer is slow to read. The machine ' +
      'does no I/O: it emits effects (`read`, `write`, `pauseReading`, `resumeReading`, `close`) ' +
      'and the connection actor answers with events. Every connection, inspected or not, runs ' +
      'this definition compiled into a table (lib/statechart), which XState’s interpreter is ' +
      'proved to agree with. What applies in every state is in the **any state** box.',
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
