/**
 * The conformance kit (docs/PROTOCOL.md §11, issue #12) against our own
 * server and against the bench's baseline server, which speaks the same
 * protocol through lib/session.ts: every vector passes on both. And the
 * vectors file is what its source writes, and the program behaves as
 * programs here do.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { expect } from 'chai';
import {
  type Case,
  casesOf,
  type Outcome,
  parseVectors,
  runCases,
} from '../../actors/conformance.js';
import { type RunningServer, startServer } from '../../actors/server.js';
import { type ProgramRun, runScript } from '../helpers/program.js';
import { until } from '../helpers/wait.js';
import { vectorFile } from '../support/protocolVectors.js';

const VECTORS_FILE = join(process.cwd(), 'docs', 'protocol-vectors.json');
const PROGRAM = 'dist/actors/cli/conformance.js';
const SETTINGS = { host: '127.0.0.1', timeoutMs: 5_000, pauseMs: 10 } as const;

/** Every wire code a client can cause by what it sends alone, without waiting (§6.2, §6.3). */
const CODES_FROM_INPUT = [
  'ERR_FRAME_TOO_LARGE',
  'ERR_BAD_MESSAGE',
  'ERR_UNSUPPORTED_VERSION',
  'ERR_HANDSHAKE_REQUIRED',
  'ERR_ALREADY_GREETED',
  'ERR_UNKNOWN_READING',
  'ERR_UNKNOWN_STATION',
];

function run(args: readonly string[]): Promise<ProgramRun> {
  return runScript(PROGRAM, args);
}

describe('integration: the conformance kit', function () {
  this.timeout(60_000);
  const text = readFileSync(VECTORS_FILE, 'utf8');
  const cases: Case[] = casesOf(parseVectors(text));
  let server: RunningServer | undefined;
  let baseline: ChildProcessByStdio<null, Readable, Readable> | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    if (baseline && baseline.exitCode === null && baseline.signalCode === null) {
      const exited = new Promise((resolve) => baseline?.once('close', resolve));
      baseline.kill('SIGKILL');
      await exited;
    }
    baseline = undefined;
  });

  async function ourServer(): Promise<number> {
    server = await startServer({ host: '127.0.0.1', port: 0, threads: 2, seed: 1 });
    return server.port;
  }

  /** Starts `node dist/bench/baselineServer.js --port 0` and reads its port from the "listening" line. */
  async function baselineServer(): Promise<number> {
    const child = spawn(process.execPath, ['dist/bench/baselineServer.js', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    baseline = child;
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    await until(
      () => /listening .*port=\d+/.test(output) || child.exitCode !== null,
      'the baseline listens',
    );
    const port = /listening .*port=(\d+)/.exec(output)?.[1];
    if (port === undefined) throw new Error(`the baseline did not start:\n${output}`);
    return Number(port);
  }

  async function expectAllPass(port: number): Promise<void> {
    const failures: Outcome[] = [];
    const { passed, failed } = await runCases(cases, { ...SETTINGS, port }, (outcome) => {
      if (outcome.failure !== null) failures.push(outcome);
    });
    expect(failures.map((f) => `${f.name}: ${f.failure}`)).to.deep.equal([]);
    expect(failed).to.equal(0);
    expect(passed).to.equal(cases.length).and.be.at.least(150);
  }

  describe('docs/protocol-vectors.json', () => {
    it('is what spec/support/protocolVectors.ts writes', () => {
      // Compared as JSON: biome lays the file out.
      expect(JSON.parse(text), 'regenerate it: see spec/support/protocolVectors.ts').to.deep.equal(
        JSON.parse(JSON.stringify(vectorFile())),
      );
    });

    it('holds at least 150 vectors, each with a unique name', () => {
      const vectors = parseVectors(text);
      expect(vectors.length).to.be.at.least(150);
      expect(new Set(vectors.map((vector) => vector.name)).size).to.equal(vectors.length);
    });

    it('covers every wire code a client can cause by its input alone', () => {
      const expected = new Set(
        parseVectors(text).flatMap((vector) =>
          vector.expect.map((frame) => (frame as { code?: string }).code),
        ),
      );
      expect(CODES_FROM_INPUT.filter((code) => !expected.has(code))).to.deep.equal([]);
    });

    it('splits a frame at every byte: each split vector gives one case per split point', () => {
      const split = parseVectors(text).filter((vector) => vector.split === 'every-byte');
      expect(split.length).to.be.at.least(3);
      for (const vector of split) {
        const last = (vector.send.at(-1) as string).length / 2;
        expect(cases.filter((test) => test.name.startsWith(`${vector.name} @`))).to.have.length(
          last - 1,
        );
      }
    });
  });

  it('passes every vector against our server', async () => {
    await expectAllPass(await ourServer());
  });

  it("passes every vector against the bench's baseline server", async () => {
    await expectAllPass(await baselineServer());
  });

  describe('npm run conformance', () => {
    it('prints PASS for each vector played and the counts, and exits 0 when all pass', async () => {
      const port = await ourServer();
      const { code, stdout, stderr } = await run(['--port', String(port), '--match', 'handshake/']);
      expect(code, stderr).to.equal(0);
      const lines = stdout.trim().split('\n');
      expect(lines.slice(0, -1).every((line) => line.startsWith('PASS handshake/'))).to.equal(true);
      expect(lines.at(-1)).to.equal(`${lines.length - 1} passed, 0 failed`);
    });

    it('prints FAIL with the reason for a vector the server does not meet, and exits 1', async () => {
      const port = await ourServer();
      const wrong = JSON.parse(text) as {
        vectors: { name: string; expect: { version?: number }[] }[];
      };
      const hello = wrong.vectors.find((vector) => vector.name === 'handshake/hello');
      (hello?.expect[0] as { version?: number }).version = 2;
      const file = join(process.cwd(), 'dist', 'wrong-vectors.json');
      await writeFile(file, JSON.stringify(wrong));
      const { code, stdout } = await run([
        '--port',
        String(port),
        '--vectors',
        file,
        '--match',
        'handshake/hello',
      ]);
      expect(code).to.equal(1);
      expect(stdout).to.match(/^FAIL handshake\/hello: reply 1\.version: expected 2, got 1$/m);
      expect(stdout.trim().split('\n').at(-1)).to.match(/^\d+ passed, 1 failed$/);
    });

    it('shows its usage for --help, and exits 0', async () => {
      const { code, stdout } = await run(['--help']);
      expect(code).to.equal(0);
      expect(stdout).to.include('Usage: npm run conformance').and.include('--port N');
    });

    it('refuses a bad flag or value with one coded line and status 2', async () => {
      for (const [args, pattern] of [
        [['--prot', '1'], /^meteo-conformance: ERR_BAD_FLAG/],
        [['--port', '0'], /^meteo-conformance: ERR_BAD_VALUE: --port/],
      ] as const) {
        const { code, stdout, stderr } = await run(args);
        expect(code, args.join(' ')).to.equal(2);
        expect(stdout).to.equal('');
        expect(stderr.trim().split('\n')).to.have.length(1);
        expect(stderr).to.match(pattern);
      }
    });

    it('refuses a vectors file it cannot play with ERR_BAD_VECTOR_FILE and status 2', async () => {
      const { code, stderr } = await run(['--vectors', join(process.cwd(), 'package.json')]);
      expect(code).to.equal(2);
      expect(stderr).to.match(/^meteo-conformance: ERR_BAD_VECTOR_FILE/);
    });

    it('stops with ERR_CONNECT_FAILED and status 1 when no server listens', async () => {
      // A port that was free a moment ago: our server's, after it stopped.
      const port = await ourServer();
      await server?.stop();
      server = undefined;
      const { code, stdout, stderr } = await run(['--port', String(port)]);
      expect(code).to.equal(1);
      expect(stdout).to.equal('');
      expect(stderr).to.match(/^meteo-conformance: ERR_CONNECT_FAILED/);
    });
  });
});
