/**
 * The server program as a child process, for specs of the CLI and of
 * signals: started on a free port, its JSON log lines readable as objects.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Readable } from 'node:stream';
import { sleep } from './wait.js';

export const SERVER_PROGRAM = 'dist/actors/cli/server.js';
export const CLIENT_PROGRAM = 'dist/actors/cli/client.js';

export interface ServerProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly port: number;
  /** Everything the process wrote so far, stdout and stderr. */
  output(): string;
  /**
   * Its complete log lines so far, parsed (the server logs JSON on stdout when
   * not on a terminal). A line still being written is left for a later call.
   */
  logs(): Record<string, unknown>[];
  /** Resolves once the process has exited and all it wrote has been read ('close', not 'exit'). */
  readonly closed: Promise<void>;
  /** SIGKILLs the process unless it has closed already; resolves once it has. For afterEach. */
  kill(): Promise<void>;
}

/**
 * Starts `node dist/actors/cli/server.js --port 0 --ready-grace 0 ...args` and waits for its
 * "listening" line. No ready grace (a SIGTERM drains at once, as most specs
 * expect) unless `args` name one; without the HTTP port (`--http-port 0`) unless `args`
 * name it: its default port would be shared by every spec, and by a server
 * a developer runs.
 */
export function startServerProcess(...args: string[]): Promise<ServerProcess> {
  return startServerProcessWithEnv({}, ...args);
}

/** startServerProcess, with these variables added to the environment. */
export async function startServerProcessWithEnv(
  env: Readonly<Record<string, string>>,
  ...args: string[]
): Promise<ServerProcess> {
  const http = args.some((arg) => /^--(http|metrics)-port\b/.test(arg)) ? [] : ['--http-port', '0'];
  const child = spawn(
    process.execPath,
    [SERVER_PROGRAM, '--port', '0', '--ready-grace', '0', ...http, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let stdout = '';
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    output += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.on('error', (err) => {
    output += `(spawn failed: ${err.message})\n`;
  });
  let hasClosed = false;
  const closed = new Promise<void>((resolve) =>
    child.once('close', () => {
      hasClosed = true;
      resolve();
    }),
  );
  const kill = async (): Promise<void> => {
    if (hasClosed) return;
    child.kill('SIGKILL');
    await closed;
  };
  const logs = (): Record<string, unknown>[] =>
    stdout
      .slice(0, stdout.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      const listening = logs().find((line) => String(line['msg']).startsWith('listening'));
      if (listening) {
        const port = Number(listening['port']);
        return { child, port, output: () => output, logs, closed, kill };
      }
      if (Date.now() > deadline || hasClosed) {
        throw new Error(`the server did not start:\n${output}`);
      }
      await sleep(20);
    }
  } catch (err) {
    // Whatever went wrong (no start, a line that is not JSON), the process goes too.
    await kill();
    throw err;
  }
}

/**
 * A loopback port that was free a moment ago: one the system handed out,
 * then closed. For a program that must be told its port (one whose log
 * cannot be read for it), and for "nothing listens here".
 */
export async function freedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
