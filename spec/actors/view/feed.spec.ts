/**
 * The live view's feed on its own (actors/view/feed.ts), with fake
 * connections, a fake pool and fake page sockets whose buffer the spec
 * fills at will: what a page is sent, when, and what it costs when nobody
 * watches.
 */
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import type WebSocket from 'ws';
import type { Observer, StateValue, Subscription } from 'xstate';
import type { ConnectionWatchEvent } from '../../../actors/connection.js';
import {
  describeEvent,
  type FeedSource,
  LiveFeed,
  type ViewedConnection,
} from '../../../actors/view/feed.js';
import type {
  DeltaMessage,
  DetailMessage,
  FeedMessage,
  FullMessage,
  HelloMessage,
} from '../../../actors/view/protocol.js';
import type { SensorResult } from '../../../lib/sensors/result.js';
import { sleep } from '../../helpers/wait.js';

const TICK_MS = 20;

/** A page's socket: what it was sent, and a buffer the spec can say is full. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: FeedMessage[] = [];
  closedWith: number | undefined;

  send(text: string): void {
    this.sent.push(JSON.parse(text) as FeedMessage);
  }

  close(code: number): void {
    this.closedWith = code;
    this.readyState = 3;
    this.emit('close');
  }

  terminate(): void {
    this.close(1006);
  }

  ping(): void {}

  /** Messages of one type sent so far. */
  of<T extends FeedMessage['type']>(type: T): Extract<FeedMessage, { type: T }>[] {
    return this.sent.filter((message) => message.type === type) as Extract<
      FeedMessage,
      { type: T }
    >[];
  }
}

/** A connection whose state and replies the spec sets, and whose watchers it can count. */
class FakeConnection implements ViewedConnection {
  readonly peer: string;
  readonly openedAt = 0;
  replies = 0;
  lastError: string | null = null;
  client: string | null = null;
  value: StateValue = 'handshake';
  readonly watchers: Observer<ConnectionWatchEvent>[] = [];
  readonly actor: ViewedConnection['actor'];

  constructor(readonly number: number) {
    this.peer = `127.0.0.1:${40_000 + number}`;
    this.actor = {
      id: `connection.${number}`,
      send: () => {},
      getSnapshot: () =>
        ({
          status: 'active',
          value: this.value,
          context: { closeReason: null, batch: [] },
        }) as never,
    };
  }

  watch(observer: Observer<ConnectionWatchEvent>): Subscription {
    this.watchers.push(observer);
    return {
      unsubscribe: () => {
        this.watchers.splice(this.watchers.indexOf(observer), 1);
      },
    };
  }

  shutdown(): void {}
  abort(): void {}

  /** Plays one event through the watchers as XState's inspection would. */
  take(type: string, ...values: StateValue[]): void {
    const event = { type } as never;
    for (const watcher of [...this.watchers]) {
      watcher.next?.({ type: '@xstate.event', event } as never);
      for (const value of values) {
        watcher.next?.({ type: '@xstate.microstep', event, snapshot: { value } } as never);
      }
      watcher.next?.({
        type: '@xstate.snapshot',
        event,
        snapshot: { value: values.at(-1) ?? this.value },
      } as never);
    }
    this.value = values.at(-1) ?? this.value;
  }
}

function source(open: FakeConnection[], reads: { count: number }): FeedSource {
  return {
    server: 'meteo-actors/test',
    port: 7210,
    stations: [{ id: 'seattle', name: 'Seattle' }],
    connections: () => open.values(),
    acceptorState: () => 'listening',
    pool: {
      threads: [1, 2],
      queueSize: 0,
      utilization: 0.25,
      get readsAsked() {
        return reads.count;
      },
      read(asked, done) {
        reads.count += asked.length;
        done(asked.map((_, i): SensorResult => ({ value: i, observedAt: 0 })));
      },
    },
  };
}

describe('actors/view/feed', () => {
  let feed: LiveFeed;
  let open: FakeConnection[];
  const reads = { count: 0 };

  beforeEach(() => {
    open = [1, 2, 3].map((n) => new FakeConnection(n));
    reads.count = 0;
    feed = new LiveFeed(source(open, reads), {
      tickMs: TICK_MS,
      sampleMs: 60_000,
      detailLimit: 2,
      highWaterBytes: 1_000,
    });
  });

  afterEach(() => feed.stop());

  function attach(): FakeSocket {
    const socket = new FakeSocket();
    feed.attach(socket as unknown as WebSocket);
    return socket;
  }

  it('does nothing while no page is open: no timer, no read, no watcher', async () => {
    await sleep(TICK_MS * 3);
    expect(feed.running).to.equal(false);
    expect(reads.count).to.equal(0);
    const page = attach();
    expect(feed.running).to.equal(true);
    page.close(1000);
    expect(feed.running).to.equal(false);
    expect(open.every((connection) => connection.watchers.length === 0)).to.equal(true);
  });

  it('sends a page that joins the hello and the whole picture at once', () => {
    const page = attach();
    const [hello, full] = page.sent as [HelloMessage, FullMessage];
    expect(hello.type).to.equal('hello');
    expect(hello.states).to.include.members(['handshake', 'serving.awaiting-request', 'closing']);
    expect(hello.charts.map((chart) => chart.name)).to.deep.equal([
      'acceptor',
      'connection',
      'client',
    ]);
    expect(full.type).to.equal('full');
    expect(full.rows.map((row) => row[0])).to.deep.equal([1, 2, 3]);
    expect(full.rows[0]?.[4]).to.equal('127.0.0.1:40001');
    expect(full.counts[hello.states.indexOf('handshake')]).to.equal(3);
    expect(full.acceptor).to.equal('listening');
    expect(full.pool).to.include({ threads: 2, queued: 0 });
  });

  it('sends, each tick, only what opened, changed or closed, with the counts', async () => {
    const page = attach();
    const states = (page.sent[0] as HelloMessage).states;
    (open[0] as FakeConnection).value = { serving: 'computing' };
    open.splice(2, 1);
    open.push(new FakeConnection(4));
    await sleep(TICK_MS * 2.5);
    const deltas = page.of('delta');
    expect(deltas.length).to.be.at.least(1);
    const first = deltas[0] as DeltaMessage;
    expect(first.changed.map((row) => [row[0], states[row[1]]])).to.deep.equal([
      [1, 'serving.computing'],
    ]);
    expect(first.opened.map((row) => row[0])).to.deep.equal([4]);
    expect(first.closed).to.deep.equal([3]);
    expect(first.counts[states.indexOf('serving.computing')]).to.equal(1);
    // Nothing changed after: the next deltas carry no rows.
    for (const delta of deltas.slice(1)) {
      expect([delta.opened, delta.changed, delta.closed]).to.deep.equal([[], [], []]);
    }
  });

  it('skips a page whose socket does not drain, then tells it only where things are now', async () => {
    const page = attach();
    const states = (page.sent[0] as HelloMessage).states;
    page.bufferedAmount = 10_000;
    const sentBefore = page.sent.length;
    const connection = open[0] as FakeConnection;
    connection.value = { serving: 'computing' };
    await sleep(TICK_MS * 2);
    connection.value = { serving: 'replying' };
    await sleep(TICK_MS * 2);
    connection.value = { serving: 'awaiting-request' };
    open.splice(1, 1);
    await sleep(TICK_MS * 2);
    expect(page.sent.length, 'sent to a page that does not drain').to.equal(sentBefore);
    page.bufferedAmount = 0;
    await sleep(TICK_MS * 2);
    const [catchUp] = page.of('delta');
    if (!catchUp) throw new Error('no delta after the page drained');
    expect(catchUp.changed.map((row) => [row[0], states[row[1]]])).to.deep.equal([
      [1, 'serving.awaiting-request'],
    ]);
    expect(catchUp.closed).to.deep.equal([2]);
  });

  it('with 10,000 connections all changing, queues nothing for a page that does not drain, then sends one delta', async () => {
    open.splice(
      0,
      open.length,
      ...Array.from({ length: 10_000 }, (_, i) => new FakeConnection(i + 1)),
    );
    const page = attach();
    const states = (page.sent[0] as HelloMessage).states;
    page.bufferedAmount = 10_000;
    const sentBefore = page.sent.length;
    const values: StateValue[] = [
      { serving: 'awaiting-request' },
      { serving: 'computing' },
      { serving: 'replying' },
    ];
    for (let round = 0; round < 6; round++) {
      for (const connection of open) connection.value = values[round % 3] as StateValue;
      await sleep(TICK_MS * 1.5);
    }
    expect(page.sent.length, 'messages to a page that does not drain').to.equal(sentBefore);
    page.bufferedAmount = 0;
    await sleep(TICK_MS * 2);
    const [catchUp] = page.of('delta');
    if (!catchUp) throw new Error('no delta after the page drained');
    expect(catchUp.changed).to.have.length(10_000);
    expect(new Set(catchUp.changed.map((row) => states[row[1]]))).to.deep.equal(
      new Set(['serving.replying']),
    );
    expect(catchUp.counts[states.indexOf('serving.replying')]).to.equal(10_000);
  });

  it("sends a connection's client once, in the first message after it became known (issue #14)", async () => {
    const page = attach();
    // A page that does not drain meanwhile is told it in its catch-up delta.
    const slow = attach();
    const [hello, full] = page.sent as [HelloMessage, FullMessage];
    const handshake = hello.states.indexOf('handshake');
    expect(full.rows[0], 'no client known: none sent').to.have.length(6);
    slow.bufferedAmount = 10_000;
    const connection = open[0] as FakeConnection;
    connection.client = 'kiosk';
    await sleep(TICK_MS * 2.5);
    connection.replies = 1;
    await sleep(TICK_MS * 2.5);
    const changed = page.of('delta').flatMap((delta) => delta.changed);
    expect(changed).to.deep.equal([
      [1, handshake, 0, null, 'kiosk'],
      [1, handshake, 1, null],
    ]);
    slow.bufferedAmount = 0;
    await sleep(TICK_MS * 2);
    const [catchUp] = slow.of('delta');
    expect(catchUp?.changed).to.deep.equal([[1, handshake, 1, null, 'kiosk']]);
    // A page that joins now gets it with the connection's row.
    const later = attach();
    const rows = (later.of('full')[0] as FullMessage).rows;
    expect(rows.map((row) => row[6] ?? null)).to.deep.equal(['kiosk', null, null]);
  });

  it('samples the stations through the pool while a page is open, and sends the samples', async () => {
    const page = attach();
    await sleep(TICK_MS * 2);
    expect(reads.count).to.equal(4);
    const samples = [...page.of('full'), ...page.of('delta')].flatMap((m) => m.samples);
    expect(samples).to.have.length(1);
    expect(samples[0]?.values).to.deep.equal([[0, 1, 2, 3]]);
  });

  it('watches a connection in detail only while a page shows it, and no more than the limit', async () => {
    const page = attach();
    const states = (page.sent[0] as HelloMessage).states;
    const first = open[0] as FakeConnection;
    page.emit('message', Buffer.from(JSON.stringify({ type: 'watch', n: 1 })), false);
    expect(first.watchers).to.have.length(1);
    first.take('RECEIVED', { serving: 'awaiting-request' }, { serving: 'computing' });
    await sleep(TICK_MS * 2);
    const details = page.of('detail');
    const events = details.flatMap((detail) => detail.events);
    expect(events.map((event) => [event.event, event.states.map((s) => states[s])])).to.deep.equal([
      ['RECEIVED', ['serving.awaiting-request', 'serving.computing']],
    ]);
    expect(states[(details.at(-1) as DetailMessage).state]).to.equal('serving.computing');

    const other = attach();
    other.emit('message', Buffer.from(JSON.stringify({ type: 'watch', n: 2 })), false);
    const third = attach();
    third.emit('message', Buffer.from(JSON.stringify({ type: 'watch', n: 3 })), false);
    expect(third.of('detail-refused')).to.deep.equal([
      { type: 'detail-refused', n: 3, reason: 'busy' },
    ]);
    expect(feed.watched).to.equal(2);
    page.emit('message', Buffer.from(JSON.stringify({ type: 'watch', n: null })), false);
    expect(first.watchers).to.have.length(0);
    expect(feed.watched).to.equal(1);
    other.close(1000);
    expect(feed.watched).to.equal(0);
  });

  it('closes a page that says anything but which connection it watches (it is read-only)', () => {
    const page = attach();
    page.emit('message', Buffer.from(JSON.stringify({ type: 'shutdown' })), false);
    expect(page.closedWith).to.equal(1008);
    expect(feed.pages).to.equal(0);
  });

  it('describes an event by ids and names only', () => {
    expect(
      describeEvent({
        type: 'RECEIVED',
        messages: [
          { type: 'read', id: 3, reading: 'pressure' },
          { type: 'hello', version: 1 },
        ],
      }),
    ).to.equal('read #3 pressure, hello');
    expect(describeEvent({ type: 'COMPUTED', results: [{}, {}] })).to.equal('2 results');
    expect(describeEvent({ type: 'WRITTEN', bufferedBytes: 0 })).to.equal('sent');
  });
});
