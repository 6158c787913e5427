/**
 * actors/stately.ts makes the Stately inspector's events itself, for speed:
 * here they are checked against @statelyai/inspect's own converter, event by
 * event, and a compiled connection is checked to draw on the page as XState's
 * interpreter draws it.
 */
import { createInspector } from '@statelyai/inspect';
import { expect } from 'chai';
import {
  type AnyActorRef,
  assign,
  createActor,
  fromCallback,
  type InspectionEvent,
  type MachineContext,
  sendTo,
  setup,
} from 'xstate';
import { rootObserver } from '../../actors/inspect.js';
import {
  actorCreated,
  definitionOf,
  eventReceived,
  type InspectedActor,
  STATELY_VERSION,
  type StatelyEvent,
  snapshotTaken,
  toJson,
} from '../../actors/stately.js';
import { PROTOCOL_VERSION, UNITS } from '../../lib/protocol.js';
import { DEFAULT_STATION, stationInfo } from '../../lib/sensors/station.js';
import { compileMachine } from '../../lib/statechart/compile.js';
import { MachineActor } from '../../lib/statechart/runtime.js';
import { connectionMachine } from '../../machines/connectionMachine.js';

/** A machine with what the inspector must carry: context (and a link to leave out), a child, events both ways. */
const machine = setup({
  types: {
    context: {} as { count: number; label: string; link: () => void },
    events: {} as { type: 'GO' } | { type: 'PONG'; from: string } | { type: 'STOP' },
  },
  actors: {
    echo: fromCallback<{ type: 'PING' }>(({ sendBack, receive }) => {
      receive(() => sendBack({ type: 'PONG', from: 'echo' }));
    }),
  },
}).createMachine({
  id: 'sample',
  context: { count: 0, label: 'sample', link: () => {} },
  initial: 'idle',
  states: {
    idle: {
      on: {
        GO: { target: 'busy', actions: assign({ count: ({ context }) => context.count + 1 }) },
      },
    },
    busy: {
      invoke: { id: 'echo', src: 'echo' },
      entry: sendTo('echo', { type: 'PING' }),
      on: { PONG: 'idle', STOP: 'done' },
    },
    done: { type: 'final' },
  },
});

/** What the page keys on and reads; `createdAt` is the time each was made, and `id` differs by design (see below). */
function comparable(event: unknown): unknown {
  const { createdAt: _createdAt, ...rest } = JSON.parse(JSON.stringify(event)) as Record<
    string,
    unknown
  >;
  if (typeof rest['definition'] === 'string') rest['definition'] = JSON.parse(rest['definition']);
  return rest;
}

describe('actors/stately', () => {
  it('stamps the version @statelyai/inspect stamps', () => {
    expect(STATELY_VERSION).to.match(/^\d+\.\d+\.\d+/);
  });

  it('makes every actor, event and snapshot event as @statelyai/inspect’s converter does', async () => {
    const seen: InspectionEvent[] = [];
    const actor = createActor(machine, { id: 'root', inspect: (event) => seen.push(event) });
    actor.start();
    actor.send({ type: 'GO' });
    actor.send({ type: 'GO' });
    actor.send({ type: 'STOP' });

    const theirs: unknown[] = [];
    const converter = createInspector(
      { send: (event: unknown) => theirs.push(event), start: () => {}, stop: () => {} },
      {
        // As actors/stately.ts: a callback actor has no context.
        sanitizeContext: (context: MachineContext) => {
          if ((context as MachineContext | undefined) === undefined) return context;
          const { link: _link, ...rest } = context;
          return rest;
        },
      },
    );
    const known = new Map<AnyActorRef, InspectedActor>();
    const inspected = (ref: AnyActorRef, rootId: string): InspectedActor => {
      let found = known.get(ref);
      if (found === undefined) {
        found = {
          name: ref.id,
          sessionId: ref.sessionId,
          rootId,
          parentId: ref._parent?.sessionId,
          definition: definitionOf(ref.id, (ref as { logic?: unknown }).logic),
          getSnapshot: () => ref.getSnapshot(),
        };
        known.set(ref, found);
      }
      return found;
    };
    const ours: StatelyEvent[] = [];
    for (const event of seen) {
      converter.inspect.next?.(event);
      const ref = event.actorRef as AnyActorRef;
      if (event.type === '@xstate.actor') ours.push(actorCreated(inspected(ref, event.rootId)));
      if (event.type === '@xstate.event') {
        const source = event.sourceRef
          ? inspected(event.sourceRef as AnyActorRef, event.rootId)
          : undefined;
        ours.push(eventReceived(inspected(ref, event.rootId), event.event, source));
      }
      if (event.type === '@xstate.snapshot')
        ours.push(snapshotTaken(inspected(ref, event.rootId), event.event, event.snapshot));
    }
    // The package converts each event in a timer of its own.
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(ours.length).to.be.greaterThan(8);
    expect(ours.map((event) => event.type)).to.include.members([
      '@xstate.actor',
      '@xstate.event',
      '@xstate.snapshot',
    ]);
    expect(ours.some((event) => event.type === '@xstate.event' && event.sourceId)).to.equal(
      true,
      'an event sent by the child names it',
    );
    // Its own events have a random id, and name no source for an event sent from outside.
    const theirsComparable = theirs.map((event) => {
      const shown = comparable(event) as Record<string, unknown>;
      if (shown['type'] === '@xstate.event') shown['id'] = null;
      return shown;
    });
    expect(ours.map((event) => comparable(JSON.parse(toJson(event))))).to.deep.equal(
      theirsComparable,
    );
    expect(toJson(ours.at(-1) as StatelyEvent)).to.not.include('link');
  });

  it('draws a compiled connection as it draws one on XState’s interpreter: the same states, contexts and events', () => {
    const welcome = {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      server: 'spec',
      station: stationInfo(DEFAULT_STATION),
      stations: [stationInfo(DEFAULT_STATION)],
      units: UNITS,
    } as const;
    const input = {
      welcome,
      limits: {
        handshakeTimeoutMs: 5_000,
        idleTimeoutMs: 300_000,
        maxQueuedRequests: 256,
        maxOutputBytes: 1 << 20,
        writeTimeoutMs: 30_000,
      },
    };
    const drawn = (interpreted: boolean): string[] => {
      // An event given as a function is made at the end of the turn: here, once the run is over.
      const given: (StatelyEvent | (() => StatelyEvent))[] = [];
      const inspect = rootObserver('server', 'connection.1', (event) => given.push(event));
      const actor = interpreted
        ? createActor(connectionMachine, { id: 'connection.1', input, inspect })
        : new MachineActor<typeof connectionMachine>(compileMachine(connectionMachine), {
            id: 'connection.1',
            input,
            inspect,
          });
      actor.on('*', (effect) => {
        if (effect.type === 'write') actor.send({ type: 'WRITTEN', bufferedBytes: 0 });
      });
      actor.start();
      const hello = { type: 'hello', version: PROTOCOL_VERSION } as const;
      actor.send({ type: 'RECEIVED', messages: [hello], receivedAt: 0 });
      for (let id = 1; id <= 3; id++) {
        actor.send({
          type: 'RECEIVED',
          messages: [{ type: 'read', id, reading: 'pressure' }],
          receivedAt: 0,
        });
        actor.send({ type: 'COMPUTED', results: [{ value: 1013.25, observedAt: 0 }] });
      }
      actor.send({ type: 'SHUTDOWN' });
      const sent = given.map((event) => (typeof event === 'function' ? event() : event));
      // The page's view: what each event is, what each snapshot shows; not when or in which order the two kinds interleave.
      const snapshots = sent
        .filter((event) => event.type !== '@xstate.event')
        .map((event) => {
          const { snapshot } = JSON.parse(toJson(event)) as {
            snapshot: { value: unknown; context: unknown; status: string };
          };
          return `${event.type} ${JSON.stringify([snapshot.value, snapshot.status, snapshot.context])}`;
        });
      const events = sent
        .filter((event) => event.type === '@xstate.event')
        .map(
          (event) =>
            `@xstate.event ${JSON.stringify(event.type === '@xstate.event' && event.event)}`,
        );
      return [...snapshots, ...events];
    };
    const compiled = drawn(false);
    expect(compiled.length).to.be.greaterThan(20);
    expect(compiled).to.deep.equal(drawn(true));
  });
});
