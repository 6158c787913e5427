import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  CLIENT_OPTIONS,
  clientCommand,
  clientSecurityOf,
  DEFAULT_HTTP_PORT,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_PORT,
  describeOptions,
  httpPortOf,
  type OptionTable,
  resolveOptions,
  SERVER_OPTIONS,
  serverSecurityOf,
} from '../../lib/config.js';
import { MeteoError } from '../../lib/errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The options a command line resolves to; fails the test when it asks for the help instead. */
function resolve<Table extends OptionTable>(table: Table, argv: string[], env: Env = {}) {
  const resolution = resolveOptions(table, argv, env);
  if (resolution.help) expect.fail('expected options, got the help');
  return resolution.options;
}

/** The MeteoError that resolving throws; fails the test when it does not throw one. */
function refusal(table: OptionTable, argv: string[], env: Env = {}): MeteoError {
  try {
    resolveOptions(table, argv, env);
  } catch (err) {
    expect(err).to.be.instanceOf(MeteoError);
    return err as MeteoError;
  }
  return expect.fail(`expected ${JSON.stringify(argv)} ${JSON.stringify(env)} to be refused`);
}

describe('lib/config', () => {
  describe('defaults', () => {
    it('gives the server its defaults when neither flags nor env say otherwise', () => {
      expect(resolve(SERVER_OPTIONS, [])).to.deep.equal({
        host: '127.0.0.1',
        port: DEFAULT_PORT,
        threads: 2,
        seed: 1,
        stations: 'seattle',
        source: 'sim',
        replaySpeed: 1,
        maxConnections: 10_000,
        handshakeTimeoutMs: 5_000,
        idleTimeoutMs: 300_000,
        maxQueuedRequests: 256,
        maxOutputBytes: 1_048_576,
        writeTimeoutMs: 30_000,
        drainTimeoutMs: 5_000,
        readyGraceMs: 2_000,
        cluster: 1,
        // Neither set: the table holds a value no flag can give (httpPortOf tells which was set).
        httpPort: -1,
        metricsPort: -1,
        logLevel: 'info',
        tlsCert: '',
        tlsKey: '',
        tlsCa: '',
        authFile: '',
        inspect: false,
        inspectPort: 8_080,
        inspectConnections: 8,
        trace: false,
      });
    });

    it('gives the client its defaults when neither flags nor env say otherwise', () => {
      expect(resolve(CLIENT_OPTIONS, [])).to.deep.equal({
        host: '127.0.0.1',
        port: DEFAULT_PORT,
        pollIntervalMs: DEFAULT_POLL_INTERVAL_MS,
        connections: 1,
        count: 0,
        station: '',
        units: 'metric',
        requestTimeoutMs: 5_000,
        json: false,
        raw: false,
        tls: false,
        ca: '',
        cert: '',
        key: '',
        servername: '',
        insecureSkipVerify: false,
        authFile: '',
        name: '',
        inspect: false,
        inspectPort: 8_080,
        inspectConnections: 8,
        trace: false,
      });
    });

    it('gives every server limit a default and a flag of its own', () => {
      const limits = [
        ['maxConnections', 'max-connections', 'METEO_MAX_CONNECTIONS'],
        ['handshakeTimeoutMs', 'handshake-timeout', 'METEO_HANDSHAKE_TIMEOUT_MS'],
        ['idleTimeoutMs', 'idle-timeout', 'METEO_IDLE_TIMEOUT_MS'],
        ['maxQueuedRequests', 'max-pipeline', 'METEO_MAX_PIPELINE'],
        ['maxOutputBytes', 'max-output', 'METEO_MAX_OUTPUT_BYTES'],
        ['writeTimeoutMs', 'write-timeout', 'METEO_WRITE_TIMEOUT_MS'],
        ['drainTimeoutMs', 'drain-timeout', 'METEO_DRAIN_TIMEOUT_MS'],
      ] as const;
      for (const [key, flag, env] of limits) {
        expect(SERVER_OPTIONS[key]).to.include({ flag, env });
        expect(resolve(SERVER_OPTIONS, [`--${flag}`, '12345'])[key], flag).to.equal(12_345);
        expect(resolve(SERVER_OPTIONS, [], { [env]: '23456' })[key], env).to.equal(23_456);
      }
    });

    it('takes a log level only from its list of choices', () => {
      expect(resolve(SERVER_OPTIONS, ['--log-level', 'debug']).logLevel).to.equal('debug');
      expect(() => resolve(SERVER_OPTIONS, ['--log-level', 'chatty']))
        .to.throw()
        .with.property('code', 'ERR_BAD_VALUE');
    });

    it('listens on loopback only by default', () => {
      expect(resolve(SERVER_OPTIONS, []).host).to.equal('127.0.0.1');
    });

    it('returns frozen options', () => {
      expect(Object.isFrozen(resolve(SERVER_OPTIONS, []))).to.equal(true);
    });

    it('ignores environment variables it does not know', () => {
      expect(resolve(SERVER_OPTIONS, [], { METEO_COLOUR: 'blue', PATH: '/bin' })).to.deep.equal(
        resolve(SERVER_OPTIONS, []),
      );
    });

    it('treats an empty environment variable as unset', () => {
      expect(resolve(SERVER_OPTIONS, [], { METEO_PORT: '', METEO_HOST: '' })).to.include({
        port: DEFAULT_PORT,
        host: '127.0.0.1',
      });
    });
  });

  describe('httpPortOf: --http-port and its former name --metrics-port', () => {
    const portOf = (argv: string[], env: Env = {}) =>
      httpPortOf(resolve(SERVER_OPTIONS, argv, env));

    it('serves the HTTP port on 7211 when neither is set', () => {
      expect(portOf([])).to.equal(DEFAULT_HTTP_PORT).and.to.equal(7211);
    });

    it('takes either name, from a flag or from the environment, and 0 for none', () => {
      expect(portOf(['--http-port', '9000'])).to.equal(9000);
      expect(portOf(['--metrics-port', '9464'])).to.equal(9464);
      expect(portOf([], { METEO_HTTP_PORT: '9001' })).to.equal(9001);
      expect(portOf([], { METEO_METRICS_PORT: '9465' })).to.equal(9465);
      expect(portOf(['--http-port', '0'])).to.equal(0);
      expect(portOf(['--metrics-port', '0'])).to.equal(0);
      expect(portOf(['--http-port', '9000', '--metrics-port', '9000'])).to.equal(9000);
    });

    it('refuses both names set to different ports with ERR_BAD_FLAG', () => {
      const both = () => portOf(['--http-port', '9000'], { METEO_METRICS_PORT: '9464' });
      expect(both).to.throw(MeteoError).with.property('code', 'ERR_BAD_FLAG');
    });

    it('refuses a port out of range, naming the flag', () => {
      const err = refusal(SERVER_OPTIONS, ['--http-port', '70000']);
      expect(err.code).to.equal('ERR_BAD_VALUE');
      expect(err.message).to.include('--http-port');
    });
  });

  describe('precedence', () => {
    it('takes environment variables over defaults', () => {
      const env = {
        METEO_HOST: '0.0.0.0',
        METEO_PORT: '8000',
        METEO_THREADS: '4',
        METEO_SEED: '99',
      };
      expect(resolve(SERVER_OPTIONS, [], env)).to.include({
        host: '0.0.0.0',
        port: 8000,
        threads: 4,
        seed: 99,
      });
    });

    it("takes the client's environment variables over defaults", () => {
      const env = { METEO_INTERVAL_MS: '250', METEO_CONNECTIONS: '8', METEO_COUNT: '3' };
      expect(resolve(CLIENT_OPTIONS, [], env)).to.include({
        pollIntervalMs: 250,
        connections: 8,
        count: 3,
      });
    });

    it('takes flags over environment variables', () => {
      const env = { METEO_PORT: '8000', METEO_THREADS: '4' };
      expect(resolve(SERVER_OPTIONS, ['--port', '9000', '--threads=3'], env)).to.include({
        port: 9000,
        threads: 3,
      });
    });

    it('takes a flag over an environment variable that would be refused', () => {
      expect(resolve(SERVER_OPTIONS, ['--port', '9000'], { METEO_PORT: 'nonsense' })).to.include({
        port: 9000,
      });
    });

    it('maps the --interval flag to pollIntervalMs', () => {
      expect(resolve(CLIENT_OPTIONS, ['--interval', '1500']).pollIntervalMs).to.equal(1500);
    });

    it('sets a boolean flag by its presence', () => {
      expect(resolve(CLIENT_OPTIONS, ['--json']).json).to.equal(true);
    });

    it('trims the value of a string option', () => {
      expect(resolve(SERVER_OPTIONS, ['--host', ' ::1 ']).host).to.equal('::1');
    });
  });

  describe('--help', () => {
    it('asks for the help with --help', () => {
      expect(resolveOptions(SERVER_OPTIONS, ['--help'], {})).to.deep.equal({ help: true });
    });

    it('asks for the help with -h', () => {
      expect(resolveOptions(CLIENT_OPTIONS, ['-h'], {})).to.deep.equal({ help: true });
    });

    it('asks for the help whatever other valid flags come with it', () => {
      expect(
        resolveOptions(CLIENT_OPTIONS, ['--json', '--port', '80', '--help'], {}),
      ).to.deep.equal({ help: true });
    });
  });

  describe('ERR_BAD_FLAG', () => {
    const cases: readonly [string, OptionTable, string[]][] = [
      ['an unknown flag', SERVER_OPTIONS, ['--colour', 'blue']],
      ['an unknown short flag', SERVER_OPTIONS, ['-p', '80']],
      ['a flag of the other program', SERVER_OPTIONS, ['--json']],
      ['a flag without its value at the end', SERVER_OPTIONS, ['--port']],
      [
        'a flag followed by another flag instead of its value',
        SERVER_OPTIONS,
        ['--port', '--threads', '3'],
      ],
      ['a value given to a boolean flag', CLIENT_OPTIONS, ['--json=yes']],
      ['a stray positional argument', CLIENT_OPTIONS, ['localhost']],
      ['a positional argument after the flags', SERVER_OPTIONS, ['--port', '80', '81']],
    ];

    for (const [what, table, argv] of cases) {
      it(`refuses ${what} with ERR_BAD_FLAG`, () => {
        expect(refusal(table, argv).code).to.equal('ERR_BAD_FLAG');
      });
    }

    it('names the unknown flag', () => {
      expect(refusal(SERVER_OPTIONS, ['--colour', 'blue']).message).to.include('--colour');
    });

    it('names the flag that lacks its value', () => {
      expect(refusal(SERVER_OPTIONS, ['--threads']).message).to.include('--threads');
    });
  });

  describe('ERR_BAD_VALUE', () => {
    const badPorts = ['12abc', '1e3', '-1', '70000', '65536', '', '0x50', '80.0', '8 0', 'eighty'];

    for (const value of badPorts) {
      it(`refuses --port=${JSON.stringify(value)} with ERR_BAD_VALUE naming --port`, () => {
        const err = refusal(SERVER_OPTIONS, [`--port=${value}`]);
        expect(err.code).to.equal('ERR_BAD_VALUE');
        expect(err.message).to.include('--port');
      });
    }

    for (const value of badPorts.filter((port) => port !== '')) {
      it(`refuses METEO_PORT=${JSON.stringify(value)} with ERR_BAD_VALUE naming METEO_PORT`, () => {
        const err = refusal(SERVER_OPTIONS, [], { METEO_PORT: value });
        expect(err.code).to.equal('ERR_BAD_VALUE');
        expect(err.message).to.include('METEO_PORT');
      });
    }

    it('accepts the ends of each integer range and refuses one past them', () => {
      for (const table of [SERVER_OPTIONS, CLIENT_OPTIONS] as OptionTable[]) {
        for (const spec of Object.values(table)) {
          if (spec.kind !== 'integer') continue;
          for (const ok of [spec.min, spec.max]) {
            expect(
              () => resolveOptions(table, [`--${spec.flag}=${ok}`], {}),
              `--${spec.flag}=${ok}`,
            ).not.to.throw();
          }
          for (const bad of [spec.min - 1, spec.max + 1]) {
            const err = refusal(table, [`--${spec.flag}=${bad}`]);
            expect(err.code, `--${spec.flag}=${bad}`).to.equal('ERR_BAD_VALUE');
            expect(err.message).to.include(`--${spec.flag}`);
          }
        }
      }
    });

    it('lets the server take port 0 (pick a free one) but not the client', () => {
      expect(resolve(SERVER_OPTIONS, ['--port', '0']).port).to.equal(0);
      expect(refusal(CLIENT_OPTIONS, ['--port', '0']).code).to.equal('ERR_BAD_VALUE');
    });

    it('refuses zero threads', () => {
      const err = refusal(SERVER_OPTIONS, [], { METEO_THREADS: '0' });
      expect(err.code).to.equal('ERR_BAD_VALUE');
      expect(err.message).to.include('METEO_THREADS');
    });

    it('refuses a count beyond the integers a double holds exactly', () => {
      expect(refusal(CLIENT_OPTIONS, ['--count', '9007199254740993']).code).to.equal(
        'ERR_BAD_VALUE',
      );
    });

    it('refuses an empty host', () => {
      const err = refusal(SERVER_OPTIONS, ['--host=']);
      expect(err.code).to.equal('ERR_BAD_VALUE');
      expect(err.message).to.include('--host');
    });

    // Issue #16 item 6: Node's parseArgs reads `-1` as a flag, and these said "needs a value".
    const negatives: readonly [OptionTable, string, string][] = [
      [SERVER_OPTIONS, '--port', '-1'],
      [SERVER_OPTIONS, '--seed', '-1'],
      [SERVER_OPTIONS, '--speed', '-2'],
      [CLIENT_OPTIONS, '--count', '-1'],
      [CLIENT_OPTIONS, '--interval', '-5'],
      [CLIENT_OPTIONS, '--interval', '-0.5'],
    ];
    for (const [table, flag, value] of negatives) {
      it(`refuses \`${flag} ${value}\` (a separate negative value) with ERR_BAD_VALUE naming ${flag} and the value, not a missing one`, () => {
        const err = refusal(table, [flag, value]);
        expect(err.code).to.equal('ERR_BAD_VALUE');
        expect(err.message).to.include(flag).and.include(value);
      });
    }

    it('still takes a negative number after a flag that takes no value as a flag of its own', () => {
      expect(refusal(CLIENT_OPTIONS, ['--json', '-1']).code).to.equal('ERR_BAD_FLAG');
    });

    it('refuses a host of spaces given in the environment', () => {
      const err = refusal(CLIENT_OPTIONS, [], { METEO_HOST: '   ' });
      expect(err.code).to.equal('ERR_BAD_VALUE');
      expect(err.message).to.include('METEO_HOST');
    });
  });

  describe('clientCommand', () => {
    it('polls when there is no command', () => {
      expect(clientCommand([], false)).to.deep.equal({ kind: 'poll' });
    });

    it('takes get with readings by the wire’s names or the poll line’s, in the order given, once each', () => {
      expect(clientCommand(['get', 'pressure', 'min', 'rainfall', 'min'], false)).to.deep.equal({
        kind: 'get',
        readings: ['pressure', 'minTemperature', 'rainfall'],
        all: false,
      });
    });

    it('takes get all as the four readings, and says it is all', () => {
      expect(clientCommand(['get', 'all'], true)).to.deep.equal({
        kind: 'get',
        readings: ['minTemperature', 'maxTemperature', 'pressure', 'rainfall'],
        all: true,
      });
    });

    it('finds the command among the flags, as a user types it', () => {
      const resolution = resolveOptions(
        CLIENT_OPTIONS,
        ['--port', '7300', 'get', 'pressure', '--raw'],
        {},
        true,
      );
      if (resolution.help) expect.fail('expected options');
      expect(resolution.args).to.deep.equal(['get', 'pressure']);
      expect(resolution.options).to.include({ port: 7300, raw: true });
    });

    const refused: readonly [string, string[], boolean, string][] = [
      ['get without a reading', ['get'], false, 'ERR_BAD_FLAG'],
      ['another command', ['set', 'pressure'], false, 'ERR_BAD_FLAG'],
      ['--raw without get', [], true, 'ERR_BAD_FLAG'],
      ['a reading it does not know', ['get', 'humidity'], false, 'ERR_BAD_VALUE'],
      ['a prototype key for a reading', ['get', 'toString'], false, 'ERR_BAD_VALUE'],
      ['all beside other readings', ['get', 'all', 'min'], false, 'ERR_BAD_VALUE'],
    ];
    for (const [what, args, raw, code] of refused) {
      it(`refuses ${what} with ${code}`, () => {
        expect(() => clientCommand(args, raw))
          .to.throw(MeteoError)
          .with.property('code', code);
      });
    }

    it('still refuses an argument that is not a flag in a program that takes none', () => {
      expect(refusal(SERVER_OPTIONS, ['get']).code).to.equal('ERR_BAD_FLAG');
    });
  });

  describe('TLS and credentials (issue #14)', () => {
    const server = (argv: string[]) => serverSecurityOf(resolve(SERVER_OPTIONS, argv));
    const client = (argv: string[], env: Env = {}) =>
      clientSecurityOf(resolve(CLIENT_OPTIONS, argv), env);
    const code = (work: () => unknown): string | undefined => {
      try {
        work();
      } catch (err) {
        return (err as MeteoError).code;
      }
      return undefined;
    };

    it('gives a server its TLS files and auth file, none by default', () => {
      expect(server([])).to.deep.equal({});
      expect(
        server([
          '--tls-cert',
          'c.pem',
          '--tls-key',
          'k.pem',
          '--tls-ca',
          'ca.pem',
          '--auth-file',
          'a',
        ]),
      ).to.deep.equal({
        tls: { certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem' },
        authFile: 'a',
      });
      expect(resolve(SERVER_OPTIONS, [], { METEO_AUTH_FILE: 'env.auth' }).authFile).to.equal(
        'env.auth',
      );
    });

    it('refuses a server flag without its partner: ERR_BAD_FLAG', () => {
      expect(code(() => server(['--tls-cert', 'c.pem']))).to.equal('ERR_BAD_FLAG');
      expect(code(() => server(['--tls-key', 'k.pem']))).to.equal('ERR_BAD_FLAG');
      expect(code(() => server(['--tls-ca', 'ca.pem']))).to.equal('ERR_BAD_FLAG');
    });

    it('gives a client its TLS options and its credential, from a file or the environment', () => {
      expect(client([])).to.deep.equal({});
      expect(client(['--tls'])).to.deep.equal({ tls: { insecureSkipVerify: false } });
      expect(
        client([
          '--tls',
          '--ca',
          'ca.pem',
          '--servername',
          'station.example',
          '--auth-file',
          'a',
          '--name',
          'kiosk',
        ]),
      ).to.deep.equal({
        tls: { caFile: 'ca.pem', servername: 'station.example', insecureSkipVerify: false },
        credential: { client: 'kiosk', authFile: 'a' },
      });
      expect(client(['--name', 'kiosk'], { METEO_SECRET: 'from the environment' })).to.deep.equal({
        credential: { client: 'kiosk' },
      });
    });

    for (const [what, argv, env] of [
      ['--ca without --tls', ['--ca', 'ca.pem'], {}],
      ['--servername without --tls', ['--servername', 'x'], {}],
      ['--insecure-skip-verify without --tls', ['--insecure-skip-verify'], {}],
      ['--key without --cert', ['--tls', '--key', 'k.pem'], {}],
      ['--name without a secret', ['--name', 'kiosk'], {}],
      ['--auth-file without --name', ['--auth-file', 'a'], {}],
      ['METEO_SECRET without --name', [], { METEO_SECRET: 'x' }],
      [
        'a secret in clear to another host',
        ['--host', '10.0.0.5', '--name', 'k', '--auth-file', 'a'],
        {},
      ],
    ] as const) {
      it(`refuses ${what}: ERR_BAD_FLAG`, () => {
        expect(code(() => client([...argv], env))).to.equal('ERR_BAD_FLAG');
      });
    }

    it('lets a secret go in clear to this machine, and over TLS anywhere', () => {
      for (const host of ['127.0.0.1', 'localhost', '::1']) {
        expect(code(() => client(['--host', host, '--name', 'k', '--auth-file', 'a']))).to.equal(
          undefined,
        );
      }
      expect(
        code(() => client(['--host', '10.0.0.5', '--tls', '--name', 'k', '--auth-file', 'a'])),
      ).to.equal(undefined);
    });
  });

  describe('the README', () => {
    // mocha runs from the repository root, so the README is found from there.
    const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');

    /** The flags in the first column of the tables of the README's section that starts with `heading`. */
    function flagsInSection(heading: string): string[] {
      const start = readme.indexOf(`\n${heading}\n`);
      expect(start, heading).to.be.above(-1);
      const next = readme.indexOf('\n## ', start + heading.length + 1);
      return readme
        .slice(start, next < 0 ? undefined : next)
        .split('\n')
        .map((line) => /^\|\s*`(--[a-z-]+)`\s*\|/.exec(line)?.[1])
        .filter((flag): flag is string => flag !== undefined);
    }

    // Issue #16: --metrics-port, --log-level and --inspect* were missing.
    for (const [heading, table] of [
      ['## The client', CLIENT_OPTIONS],
      ['## The server', SERVER_OPTIONS],
    ] as const) {
      it(`lists every flag of --help in the table of "${heading}", once`, () => {
        const listed = flagsInSection(heading);
        const flags = Object.values(table as OptionTable).map((spec) => `--${spec.flag}`);
        expect(flags.filter((flag) => !listed.includes(flag))).to.deep.equal([]);
        expect(listed.filter((flag, i) => listed.indexOf(flag) !== i)).to.deep.equal([]);
      });
    }
  });

  describe('describeOptions', () => {
    it("says in words that the client's --station defaults to the server's default station", () => {
      expect(describeOptions(CLIENT_OPTIONS)).to.match(
        /^ {2}--station TEXT +station to poll, by id \(default the server's default station\)/m,
      );
    });

    for (const [name, table] of [
      ['server', SERVER_OPTIONS],
      ['client', CLIENT_OPTIONS],
    ] as const) {
      it(`lists every ${name} flag with its environment variable and default`, () => {
        const help = describeOptions(table);
        for (const spec of Object.values(table) as OptionTable[string][]) {
          expect(help).to.match(new RegExp(`^  --${spec.flag}\\b`, 'm'));
          if (spec.env) expect(help).to.include(`[env ${spec.env}]`);
          if (spec.kind !== 'boolean') {
            expect(help).to.include(`(default ${spec.defaultText ?? spec.default})`);
          }
        }
        expect(help).to.include('--help, -h');
      });

      it(`shows no ${name} default as an empty "(default )"`, () => {
        expect(describeOptions(table)).not.to.match(/\(default \)/);
      });

      it(`gives each ${name} flag one line of its own`, () => {
        const lines = describeOptions(table).split('\n');
        // One line per option, and one for --help.
        expect(lines).to.have.length(Object.keys(table).length + 1);
      });
    }
  });
});
