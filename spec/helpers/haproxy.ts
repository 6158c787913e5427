/**
 * HAProxy as a child process, run from the shipped deploy/haproxy.cfg with
 * only its ports replaced (issue #15), and its log read line by line.
 */
import { type ChildProcessByStdio, execFileSync, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StampedLines } from './stampedLines.js';
import { until as waitUntil } from './wait.js';

export const SHIPPED_HAPROXY_CONFIG = 'deploy/haproxy.cfg';

/** A meteo-actors server behind HAProxy: its protocol port and its HTTP port (/readyz). */
export interface Backend {
  readonly port: number;
  readonly httpPort: number;
}

/**
 * Fails, saying what to do, when HAProxy cannot be run: the specs that need
 * it fail without it, they never skip (.ci/run installs it).
 */
export function requireHaproxy(): void {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
  } catch (err) {
    throw new Error(
      `HAProxy is needed for this spec and cannot be run (${(err as Error).message}): ` +
        'install it (apt-get install haproxy; .ci/run does when it is missing)',
    );
  }
}

const BIND = /^(\s*bind\s+[^\s:]+:)(\d+)(\s.*)?$/;
const SERVER = /^(\s*server\s+(\S+)\s+[^\s:]+:)(\d+)(\s+check\s+port\s+)(\d+)(\s.*)?$/;

/** A configuration to run, and the names of its servers, in the order of `backends`. */
export interface PortedConfig {
  readonly config: string;
  readonly servers: readonly string[];
}

/**
 * The shipped configuration with its frontend's port and its servers'
 * ports (protocol and check) replaced, one backend per server line, in
 * order; every other line as it is. Throws when the file does not have the
 * one bind line and one server line per backend that this replaces.
 */
export function withPorts(
  shipped: string,
  frontendPort: number,
  backends: readonly Backend[],
): PortedConfig {
  let binds = 0;
  const servers: string[] = [];
  const lines = shipped.split('\n').map((line) => {
    const bind = BIND.exec(line);
    if (bind) {
      binds++;
      return `${bind[1]}${frontendPort}${bind[3] ?? ''}`;
    }
    const server = SERVER.exec(line);
    if (!server) return line;
    const backend = backends[servers.length];
    servers.push(server[2] as string);
    if (backend === undefined) return line;
    return `${server[1]}${backend.port}${server[4]}${backend.httpPort}${server[6] ?? ''}`;
  });
  if (binds !== 1 || servers.length !== backends.length) {
    throw new Error(
      `${SHIPPED_HAPROXY_CONFIG} has ${binds} bind lines and ${servers.length} lines "server NAME HOST:PORT check port PORT"; ` +
        `this spec replaces the ports of 1 and ${backends.length}`,
    );
  }
  return { config: lines.join('\n'), servers };
}

/** A line of HAProxy's log that says a health check changed a server's state. */
export interface StateChange {
  /** `backend/server`, as the configuration names them. */
  readonly server: string;
  readonly state: 'UP' | 'DOWN';
  /** What the check saw: `Layer7 wrong status`, `Layer4 connection problem`... */
  readonly reason: string;
  /** The HTTP status of an HTTP check, when the check got one. */
  readonly status: number | null;
}

const STATE_CHANGE = /^Server (\S+) is (UP|DOWN), reason: ([^,]+)(?:, code: (\d+))?/;

/** `Server stations/station2 is DOWN, reason: Layer7 wrong status, code: 503, ...`, read; null for other lines. */
export function stateChange(line: string): StateChange | null {
  const match = STATE_CHANGE.exec(line);
  if (!match) return null;
  return {
    server: match[1] as string,
    state: match[2] as 'UP' | 'DOWN',
    reason: match[3] as string,
    status: match[4] === undefined ? null : Number(match[4]),
  };
}

export interface HaproxyProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Its log (the shipped file logs to stdout), line by line, as read. */
  readonly log: StampedLines;
  /**
   * Resolves once `condition()` holds; rejects, naming `what` and with all
   * HAProxy said, after `timeoutMs` or as soon as HAProxy has exited.
   */
  until(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Kills it unless it has closed already; resolves once it has. For afterEach. */
  kill(): Promise<void>;
}

/** Runs `haproxy -db -f configPath` (in the foreground, as for tests) and returns at once. */
export function startHaproxy(configPath: string): HaproxyProcess {
  const child = spawn('haproxy', ['-db', '-f', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = new StampedLines(child.stdout);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.on('error', (err) => {
    stderr += `(spawn failed: ${err.message})\n`;
  });
  let hasClosed = false;
  const closed = new Promise<void>((resolve) =>
    child.once('close', () => {
      hasClosed = true;
      resolve();
    }),
  );
  const until = async (condition: () => boolean, what: string, timeoutMs = 10_000) => {
    try {
      await waitUntil(() => hasClosed || condition(), what, timeoutMs);
      if (!condition()) throw new Error(`HAProxy exited (${child.exitCode}) before ${what}`);
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\nHAProxy's log:\n${log.text()}\nand stderr:\n${stderr}`,
      );
    }
  };
  return {
    child,
    log,
    until,
    kill: async () => {
      // A program that never started (spawn failed) has nothing to close.
      if (hasClosed || child.pid === undefined) return;
      child.kill('SIGKILL');
      await closed;
    },
  };
}
