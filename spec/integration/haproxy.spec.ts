/**
 * Three servers behind HAProxy, run from the shipped deploy/haproxy.cfg with
 * only its ports replaced (issue #15). The product's client polls through it
 * on 50 connections while one server is stopped: with SIGTERM it retires,
 * and HAProxy must see it not ready on /readyz before its listener closes;
 * with SIGKILL it dies, and its clients reconnect to the two left. Either
 * way every connection polls on, every poll printed is complete, and every
 * request is answered exactly once, as counted on the wire between the
 * client and HAProxy (docs/PROTOCOL.md §8.3, §8.4).
 */
import { type ChildProcessByStdio, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { expect } from 'chai';
import { READINGS } from '../../lib/protocol.js';
import {
  type Backend,
  type HaproxyProcess,
  requireHaproxy,
  SHIPPED_HAPROXY_CONFIG,
  startHaproxy,
  stateChange,
  withPorts,
} from '../helpers/haproxy.js';
import {
  CLIENT_PROGRAM,
  freedPort,
  type ServerProcess,
  startServerProcess,
} from '../helpers/serverProcess.js';
import { type StampedLine, StampedLines } from '../helpers/stampedLines.js';
import { until } from '../helpers/wait.js';
import { WireTap } from '../helpers/wireTap.js';

const CONNECTIONS = 50;
const INTERVAL_MS = 200;
/** Polls per connection: enough to outlast the stopped server by seconds. */
const COUNT = 24;
/** Polls every connection has made before a server is stopped: the load is on. */
const POLLS_BEFORE = 3;
/** Long enough for a check every 500 ms (the shipped `inter`) to see the 503 first. */
const READY_GRACE_MS = 1_500;
/** The server stopped, of the three: the second. */
const VICTIM = 1;

/** The product's client, polling, as a child process. */
interface ClientProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Its readings: one JSON line per poll of a connection. */
  readonly out: StampedLines;
  /** Its news of the connections. */
  readonly news: StampedLines;
  readonly exited: Promise<number | null>;
}

function startClient(port: number): ClientProcess {
  const child = spawn(
    process.execPath,
    [
      CLIENT_PROGRAM,
      '--port',
      String(port),
      '--connections',
      String(CONNECTIONS),
      '--interval',
      String(INTERVAL_MS),
      '--count',
      String(COUNT),
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    child,
    out: new StampedLines(child.stdout),
    news: new StampedLines(child.stderr),
    exited,
  };
}

interface Poll {
  /** When this process read the line. */
  readonly at: number;
  readonly values: Record<string, unknown>;
}

/** The client's polls so far, by connection. */
function pollsByConnection(out: StampedLines): Map<number, Poll[]> {
  const polls = new Map<number, Poll[]>();
  for (const { at, text } of out.lines) {
    const values = JSON.parse(text) as Record<string, unknown>;
    const connection = Number(values['connection']);
    polls.set(connection, [...(polls.get(connection) ?? []), { at, values }]);
  }
  return polls;
}

/** What the client said of its connections: who lost its server (and why), who reconnected, anything else. */
function readNews(news: StampedLines) {
  const disconnected = new Map<number, string[]>();
  let reconnected = 0;
  const other: string[] = [];
  for (const { text } of news.lines) {
    const lost = /^\[(\d+)\] disconnected: (ERR_[A-Z_]+): /.exec(text);
    if (lost) {
      const connection = Number(lost[1]);
      disconnected.set(connection, [...(disconnected.get(connection) ?? []), lost[2] as string]);
    } else if (/^\[\d+\] reconnected to /.test(text)) reconnected++;
    else if (!/^\[\d+\] connected to /.test(text)) other.push(text);
  }
  return { disconnected, reconnected, other };
}

/** The `msg` of a server's JSON log line; null for any other line. */
function logMessage(text: string): unknown {
  try {
    return (JSON.parse(text) as Record<string, unknown>)['msg'];
  } catch {
    return null;
  }
}

/** Connections open on a server now, by its log: opened less closed. */
function openConnections(server: ServerProcess): number {
  let open = 0;
  for (const line of server.logs()) {
    if (line['msg'] === 'connection opened') open++;
    if (line['msg'] === 'connection closed') open--;
  }
  return open;
}

function connectionsOpened(server: ServerProcess): number {
  return server.logs().filter((line) => line['msg'] === 'connection opened').length;
}

/** Whether a line of HAProxy's log says that the server named `name` went `state`. */
function says(name: string, state: 'UP' | 'DOWN') {
  return (text: string): boolean => {
    const change = stateChange(text);
    return change?.state === state && change.server.endsWith(`/${name}`);
  };
}

/** What a spec sees of the stations once one server has been signalled under load. */
interface Stopped {
  readonly client: ClientProcess;
  readonly victim: ServerProcess;
  /** The victim's log, from just before the signal, as read. */
  readonly victimLog: StampedLines;
  /** HAProxy's first line, after the signal, that says the victim is down. */
  readonly down: StampedLine;
  /** Connections the victim had when it was signalled. */
  readonly victimOpen: number;
  /** Connections the two servers left opened after the signal. */
  openedByOthers(): number;
}

describe('integration: three servers behind HAProxy, from deploy/haproxy.cfg', function () {
  this.timeout(40_000);
  let dir: string | undefined;
  let servers: ServerProcess[] = [];
  let haproxy: HaproxyProcess | undefined;
  let tap: WireTap | undefined;
  let client: ClientProcess | undefined;

  before(requireHaproxy);

  afterEach(async () => {
    client?.child.kill('SIGKILL');
    await client?.exited;
    tap?.close();
    await haproxy?.kill();
    await Promise.all(servers.map((server) => server.kill()));
    if (dir) rmSync(dir, { recursive: true, force: true });
    client = tap = haproxy = dir = undefined;
    servers = [];
  });

  /** Ports that were free a moment ago, all different. */
  async function freePorts(n: number): Promise<number[]> {
    const ports = new Set<number>();
    while (ports.size < n) ports.add(await freedPort());
    return [...ports];
  }

  /**
   * HAProxy from the shipped file with its ports replaced, then the three
   * servers. HAProxy starts first and sees them down, so that the line that
   * says each is UP is proof that its check passed on /readyz (a server is
   * taken to be up, silently, until a check fails). Resolves with the names
   * of the servers, and HAProxy.
   */
  async function startStations(): Promise<{ names: readonly string[]; proxy: HaproxyProcess }> {
    const [frontend = 0, ...rest] = await freePorts(7);
    const backends: Backend[] = [0, 1, 2].map((i) => ({
      port: rest[2 * i] as number,
      httpPort: rest[2 * i + 1] as number,
    }));
    const { config, servers: names } = withPorts(
      readFileSync(SHIPPED_HAPROXY_CONFIG, 'utf8'),
      frontend,
      backends,
    );
    dir = mkdtempSync(join(tmpdir(), 'meteo-haproxy-'));
    const configPath = join(dir, 'haproxy.cfg');
    writeFileSync(configPath, config);
    const proxy = startHaproxy(configPath);
    haproxy = proxy;
    await proxy.until(
      () => names.every((name) => proxy.log.find(says(name, 'DOWN'))),
      'HAProxy sees the three servers down, as nothing listens yet',
    );

    servers = await Promise.all(
      backends.map(({ port, httpPort }) =>
        startServerProcess(
          '--port',
          String(port),
          '--http-port',
          String(httpPort),
          '--ready-grace',
          String(READY_GRACE_MS),
          '--threads',
          '1',
        ),
      ),
    );
    await proxy.until(
      () => names.every((name) => proxy.log.find(says(name, 'UP'))),
      'HAProxy sees the three servers up',
    );
    for (const name of names) {
      const up = proxy.log.find(says(name, 'UP'));
      expect(stateChange(up?.text ?? '')?.status, `${name}'s check`).to.equal(200);
    }
    tap = await WireTap.start(frontend);
    return { names, proxy };
  }

  /**
   * Starts the stations and the client (through the tap, then HAProxy),
   * waits until every connection polls, then sends `signal` to the second
   * server, and resolves once HAProxy has said that server is down.
   */
  async function stopOneUnderLoad(signal: 'SIGTERM' | 'SIGKILL'): Promise<Stopped> {
    const { names, proxy } = await startStations();
    const run = startClient((tap as WireTap).port);
    client = run;
    await until(() => {
      const polls = pollsByConnection(run.out);
      return (
        polls.size === CONNECTIONS && [...polls.values()].every((p) => p.length >= POLLS_BEFORE)
      );
    }, `every connection to have polled ${POLLS_BEFORE} times`).catch((err: Error) => {
      throw new Error(`${err.message}; the client said:\n${run.news.text()}`);
    });

    const victim = servers[VICTIM] as ServerProcess;
    const victimLog = new StampedLines(victim.child.stdout);
    const victimOpen = openConnections(victim);
    expect(victimOpen, 'connections on the server to stop').to.be.above(0);
    const openedBefore = servers.map(connectionsOpened);
    const signalledAt = performance.now();
    victim.child.kill(signal);
    const down = await proxy.log.first(
      says(names[VICTIM] as string, 'DOWN'),
      `HAProxy to mark ${names[VICTIM]} down`,
      { since: signalledAt },
    );
    return {
      client: run,
      victim,
      victimLog,
      down,
      victimOpen,
      openedByOthers: () =>
        servers.reduce(
          (sum, server, i) =>
            i === VICTIM ? sum : sum + connectionsOpened(server) - (openedBefore[i] as number),
          0,
        ),
    };
  }

  /**
   * What must hold once the client is done, however the server stopped: it
   * exits 0; every connection printed COUNT polls, each complete, some after
   * `stoppedAt`; each connection the stopped server had lost it once (with
   * `lostWith`) and reconnected once, on one of the two servers left, and no
   * other connection did; and on the wire, every request was answered
   * exactly once.
   */
  async function checkClients(
    { client: run, victimOpen, openedByOthers }: Stopped,
    { stoppedAt, lostWith }: { stoppedAt: number; lostWith: string },
  ): Promise<void> {
    const code = await run.exited;
    const news = run.news.text();
    expect(code, news).to.equal(0);

    const polls = pollsByConnection(run.out);
    expect([...polls.keys()].sort((a, b) => a - b)).to.deep.equal(
      Array.from({ length: CONNECTIONS }, (_, i) => i + 1),
    );
    for (const [connection, mine] of polls) {
      expect(mine, `polls of connection ${connection}`).to.have.length(COUNT);
      for (const { values } of mine) {
        for (const reading of READINGS) {
          expect(values[reading], `${reading} of connection ${connection}`).to.be.a('number');
        }
      }
      expect(
        mine.filter((poll) => poll.at > stoppedAt).length,
        `polls of connection ${connection} after the server stopped`,
      ).to.be.above(0);
    }

    const { disconnected, reconnected, other } = readNews(run.news);
    expect(other, 'what the client said besides (re)connecting').to.deep.equal([]);
    expect(disconnected.size, `connections that lost their server: ${news}`).to.equal(victimOpen);
    for (const codes of disconnected.values()) expect(codes, news).to.deep.equal([lostWith]);
    expect(reconnected, news).to.equal(victimOpen);
    expect(openedByOthers(), 'connections the two servers left took').to.equal(victimOpen);

    // A connection's request ids run 1, 2, 3... and a request sent again after a
    // reconnect keeps its id (docs/PROTOCOL.md §8.4), so over every connection
    // on the wire, each id must be answered once per client connection.
    const answered = new Map<number, number>();
    for (const { requests, replies, garbled } of (tap as WireTap).connections) {
      expect(garbled, 'bytes that are not the protocol').to.deep.equal([]);
      // One request in flight at a time: answered in order, the last one perhaps not.
      expect(replies).to.deep.equal(requests.slice(0, replies.length));
      expect(requests.length - replies.length).to.be.at.most(1);
      for (const id of replies) answered.set(id, (answered.get(id) ?? 0) + 1);
    }
    expect(
      [...answered].filter(([, times]) => times !== CONNECTIONS),
      `request ids answered other than ${CONNECTIONS} times`,
    ).to.deep.equal([]);
    expect(answered.size, 'request ids answered').to.equal(COUNT * READINGS.length);
  }

  it('takes the shipped deploy/haproxy.cfg as valid (haproxy -c)', () => {
    const said = execFileSync('haproxy', ['-c', '-f', SHIPPED_HAPROXY_CONFIG], {
      encoding: 'utf8',
    });
    expect(said).to.match(/Configuration file is valid/);
  });

  it('on SIGTERM, HAProxy sees the server not ready on /readyz before its listener closes; the clients poll on, each request answered once, and it exits 0', async () => {
    const stopped = await stopOneUnderLoad('SIGTERM');
    const { victim, victimLog, down } = stopped;
    const closing = await victimLog.first(
      (text) => logMessage(text) === 'stopped accepting',
      'the server to stop accepting',
    );
    await victim.closed;
    const exitedAt = performance.now();
    expect(victim.child.exitCode, victim.output()).to.equal(0);

    expect(stateChange(down.text), down.text).to.include({ state: 'DOWN', status: 503 });
    expect(down.at, 'HAProxy marked it down before its listener closed').to.be.below(closing.at);

    await checkClients(stopped, { stoppedAt: exitedAt, lostWith: 'ERR_SHUTTING_DOWN' });
    // Each connection it had was told so on the wire, after its replies; no other was.
    const told = (tap as WireTap).connections.filter((c) => c.connectionErrors.length > 0);
    expect(told).to.have.length(stopped.victimOpen);
    for (const c of told) expect(c.connectionErrors).to.deep.equal(['ERR_SHUTTING_DOWN']);
  });

  it('on SIGKILL, the clients reconnect through HAProxy to the two servers left and poll on, each request answered once', async () => {
    const stopped = await stopOneUnderLoad('SIGKILL');
    const { victim } = stopped;
    await victim.closed;
    const killedAt = performance.now();
    expect(victim.child.signalCode).to.equal('SIGKILL');

    await checkClients(stopped, { stoppedAt: killedAt, lostWith: 'ERR_CONNECTION_LOST' });
  });
});
