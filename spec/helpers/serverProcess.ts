/**
 * The server program as a child process, for specs of the CLI and of
 * signals: started on a free port, its JSON log lines readable as objects.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export const SERVER_PROGRAM = 'dist/actors/cli/server.js';

export interface ServerProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly port: number;
  /** Everything the process wrote so far, stdout and stderr. */
  output(): string;
  /** Its log lines so far, parsed (the server logs JSON when not on a terminal). */
  logs(): Record<string, unknown>[];
}

/** Starts `node dist/actors/cli/server.js --port 0 ...args` and waits for its "listening" line. */
export async function startServerProcess(...args: string[]): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SERVER_PROGRAM, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  const logs = (): Record<string, unknown>[] =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const listening = logs().find((line) => String(line['msg']).startsWith('listening'));
    if (listening) {
      return { child, port: Number(listening['port']), output: () => output, logs };
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`the server did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
