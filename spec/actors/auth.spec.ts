/**
 * Clients that say who they are (actors/auth.ts, issue #14): the auth file,
 * the check of a credential, the table that slows guessing down (on a clock
 * the spec moves), and the gate a connection actor asks.
 */
import { expect } from 'chai';
import {
  AuthTable,
  addressKey,
  ClientAuth,
  exposureWarnings,
  GUESS_LIMITS,
  type GuessLimits,
  GuessTable,
  type Link,
  MIN_SECRET_LENGTH,
  parseAuthFile,
  withoutSecret,
} from '../../actors/auth.js';
import { isLoopback, isLoopbackHost } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { PROTOCOL_VERSION } from '../../lib/protocol.js';
import type { CheckedHello } from '../../lib/session.js';
import { ServerStats } from '../../lib/telemetry.js';
import { thrown } from '../helpers/errors.js';

const SECRET = 'correct horse battery staple';
const OTHER_SECRET = 'Tr0ub4dor&3-but-longer';

describe('actors/auth', () => {
  describe('parseAuthFile', () => {
    it('reads name:secret lines, skipping blank lines and comments, the secret all after the first colon', () => {
      const text = `# the station's clients\r\nkiosk:${SECRET}\r\n\n  # indented comment\nlab-2.b_c:a:b:c:d:e:f:g:h:i:j\n`;
      expect(parseAuthFile(text, 'auth')).to.deep.equal([
        { client: 'kiosk', secret: SECRET },
        { client: 'lab-2.b_c', secret: 'a:b:c:d:e:f:g:h:i:j' },
      ]);
    });

    for (const [what, text] of [
      ['a line without a colon', `kiosk ${SECRET}`],
      ['an empty name', `:${SECRET}`],
      ['a name with a space', `kiosk one:${SECRET}`],
      ['a name over 64 characters', `${'k'.repeat(65)}:${SECRET}`],
      ['a name twice', `kiosk:${SECRET}\nkiosk:${OTHER_SECRET}`],
      ['a secret shorter than the least', `kiosk:${'s'.repeat(MIN_SECRET_LENGTH - 1)}`],
      ['a secret with a control character', `kiosk:${SECRET}\u0007`],
      ['no client at all', '# nobody yet\n\n'],
    ] as const) {
      it(`refuses ${what} with ERR_BAD_AUTH_FILE, never quoting a secret`, () => {
        const err = thrown(() => parseAuthFile(text, 'auth'));
        expect(err.code).to.equal('ERR_BAD_AUTH_FILE');
        for (const secret of [SECRET, OTHER_SECRET]) expect(err.message).not.to.include(secret);
      });
    }
  });

  describe('AuthTable', () => {
    const table = new AuthTable([
      { client: 'kiosk', secret: SECRET },
      { client: 'lab', secret: OTHER_SECRET },
    ]);

    it('lets in a client with its own secret, and says which way a credential is wrong', () => {
      expect(table.check('kiosk', SECRET)).to.equal('ok');
      expect(table.check('kiosk', OTHER_SECRET)).to.equal('wrong-secret');
      expect(table.check('kiosk', `${SECRET} `)).to.equal('wrong-secret');
      expect(table.check('kiosk', '')).to.equal('wrong-secret');
      expect(table.check('nobody', SECRET)).to.equal('unknown-client');
      expect(table.check('KIOSK', SECRET)).to.equal('unknown-client');
    });

    it('names the clients a new table no longer lets in: gone, or given another secret', () => {
      const next = new AuthTable([
        { client: 'kiosk', secret: SECRET },
        { client: 'lab', secret: `${OTHER_SECRET}!` },
        { client: 'new', secret: SECRET },
      ]);
      expect(table.revokedBy(next)).to.deep.equal(['lab']);
      expect(table.revokedBy(new AuthTable([{ client: 'new', secret: SECRET }]))).to.deep.equal([
        'kiosk',
        'lab',
      ]);
    });
  });

  describe('addresses', () => {
    it('counts an IPv4 address as itself, however it is written', () => {
      expect(addressKey('10.0.0.7')).to.equal('10.0.0.7');
      expect(addressKey('::ffff:10.0.0.7')).to.equal('10.0.0.7');
    });

    it('counts an IPv6 address by its /64, so one host cannot start afresh from each of its addresses', () => {
      const key = addressKey('2001:db8:1:2:aaaa::1');
      expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).to.equal(key);
      expect(addressKey('2001:db8:1:2::9%eth0')).to.equal(key);
      expect(addressKey('2001:db8:1:3::1')).not.to.equal(key);
      expect(addressKey('::1')).to.equal(addressKey('::2'));
    });

    it('knows loopback addresses and hosts from the rest', () => {
      for (const address of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1']) {
        expect(isLoopback(address), address).to.equal(true);
      }
      for (const address of ['10.0.0.7', '0.0.0.0', '::', '::ffff:10.0.0.7', undefined]) {
        expect(isLoopback(address), String(address)).to.equal(false);
      }
      expect(isLoopbackHost('localhost')).to.equal(true);
      expect(isLoopbackHost('0.0.0.0')).to.equal(false);
      expect(isLoopbackHost('station.example')).to.equal(false);
    });
  });

  describe('GuessTable', () => {
    const LIMITS: GuessLimits = {
      firstDelayMs: 100,
      maxDelayMs: 1_000,
      maxBacklogMs: 3_000,
      forgetAfterMs: 60_000,
      maxAddresses: 3,
    };
    let now: number;
    let guesses: GuessTable;
    beforeEach(() => {
      now = 1_000_000;
      guesses = new GuessTable(LIMITS, () => now);
    });

    it('delays each failure of an address twice as long as the one before, up to the most', () => {
      const delays = [];
      for (let i = 0; i < 6; i++) {
        const delay = guesses.book('10.0.0.7', true);
        delays.push(delay);
        now += delay;
      }
      expect(delays).to.deep.equal([100, 200, 400, 800, 1_000, 1_000]);
    });

    it('answers failures of one address one after another, however many arrive at once', () => {
      const delays = [1, 2, 3, 4].map(() => guesses.book('10.0.0.7', true));
      expect(delays).to.deep.equal([100, 300, 700, 1_500]);
    });

    it('lets a good credential wait for the failures already booked, and adds none', () => {
      expect(guesses.book('10.0.0.7', false)).to.equal(0);
      guesses.book('10.0.0.7', true);
      guesses.book('10.0.0.7', true);
      expect(guesses.book('10.0.0.7', false)).to.equal(300);
      expect(guesses.book('10.0.0.7', false)).to.equal(300);
      now += 300;
      expect(guesses.book('10.0.0.7', false)).to.equal(0);
    });

    it('slows one address down, not another', () => {
      for (let i = 0; i < 5; i++) guesses.book('10.0.0.7', true);
      expect(guesses.book('10.0.0.8', true)).to.equal(100);
      expect(guesses.book('10.0.0.9', false)).to.equal(0);
    });

    it('stops checking an address whose booked answers reach past the backlog, until they have gone', () => {
      while (!guesses.throttled('10.0.0.7')) guesses.book('10.0.0.7', true);
      expect(guesses.throttled('10.0.0.8')).to.equal(false);
      now += LIMITS.maxBacklogMs + LIMITS.maxDelayMs;
      expect(guesses.throttled('10.0.0.7')).to.equal(false);
    });

    it('forgets an address after forgetAfterMs without a failure', () => {
      for (let i = 0; i < 5; i++) now += guesses.book('10.0.0.7', true);
      now += LIMITS.forgetAfterMs + 1;
      expect(guesses.book('10.0.0.7', true)).to.equal(100);
    });

    it('remembers at most maxAddresses, forgetting the one that failed longest ago', () => {
      for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) guesses.book(address, true);
      guesses.book('10.0.0.1', true);
      guesses.book('10.0.0.4', true);
      expect(guesses.size).to.equal(3);
      expect(guesses.book('10.0.0.2', true)).to.equal(100);
      expect(guesses.book('10.0.0.1', true)).to.be.above(100);
    });
  });

  describe('ClientAuth, the gate', () => {
    const TLS: Link = { peer: '10.0.0.7:50000', address: '10.0.0.7', private: true };
    const CLEAR: Link = { peer: '10.0.0.7:50000', address: '10.0.0.7', private: false };
    const hello = (name?: string, secret = SECRET) => ({
      type: 'hello' as const,
      version: PROTOCOL_VERSION,
      ...(name === undefined ? {} : { auth: { name, secret } }),
    });
    let lines: string[];
    let stats: ServerStats;
    const gate = (required: boolean, limits: GuessLimits = GUESS_LIMITS) => {
      lines = [];
      stats = new ServerStats();
      return new ClientAuth({
        table: required ? new AuthTable([{ client: 'kiosk', secret: SECRET }]) : null,
        limits,
        log: createLogger((line) => lines.push(line), 'debug'),
        telemetry: stats,
      });
    };

    it('hands on each hello without its secret, checked or not', () => {
      for (const required of [true, false]) {
        for (const link of [TLS, CLEAR]) {
          for (const name of ['kiosk', 'nobody', undefined]) {
            const checked = gate(required).check(hello(name), link);
            expect(JSON.stringify(checked)).not.to.include(SECRET);
            expect(checked).not.to.have.property('auth');
          }
        }
      }
      expect(withoutSecret(hello('kiosk'))).to.deep.equal(hello());
    });

    it('checks a credential that came over TLS or loopback against the file', () => {
      const auth = gate(true);
      expect(auth.check(hello('kiosk'), TLS)).to.include({ credential: 'ok', client: 'kiosk' });
      expect(auth.check(hello('kiosk', OTHER_SECRET), TLS)).to.include({
        credential: 'wrong-secret',
        client: 'kiosk',
      });
      expect(auth.check(hello('nobody'), TLS)).to.include({ credential: 'unknown-client' });
      expect(auth.check(hello(), TLS)).to.include({ credential: 'missing' });
    });

    it('refuses any credential that crossed the network in clear, with or without an auth file', () => {
      for (const required of [true, false]) {
        expect(gate(required).check(hello('kiosk'), CLEAR)).to.include({ credential: 'cleartext' });
      }
    });

    it('lets a hello through unchecked when the server requires no credential', () => {
      const auth = gate(false);
      expect(auth.check(hello(), CLEAR)).to.deep.equal(hello());
      expect(auth.check(hello('anyone'), TLS)).to.deep.equal(hello());
    });

    it('counts and logs a failure with its reason and the name tried, never the secret, and delays a guess', () => {
      const auth = gate(true);
      const delay = auth.answered(TLS, { client: 'kiosk', credential: 'wrong-secret' }, 3);
      expect(delay).to.equal(GUESS_LIMITS.firstDelayMs);
      expect(auth.answered(TLS, { client: null, credential: 'missing' }, 4)).to.equal(0);
      expect(stats.snapshot(0).auth.failures).to.deep.equal({ 'wrong-secret': 1, missing: 1 });
      expect(lines).to.have.length(2);
      const [first] = lines;
      expect(first).to.match(/WARN/);
      expect(first).to.include('code=ERR_AUTH_FAILED');
      expect(first).to.include('peer=10.0.0.7:50000');
      expect(first).to.include('client=kiosk');
      expect(first).to.include('reason=wrong-secret');
      expect(lines.join('\n')).not.to.include(SECRET);
    });

    it('refuses the hellos of an address past its backlog without checking them', () => {
      const auth = gate(true, { ...GUESS_LIMITS, maxBacklogMs: 1_000 });
      const credential = () => (auth.check(hello('kiosk'), TLS) as CheckedHello).credential;
      while (credential() !== 'throttled') {
        auth.answered(TLS, { client: 'kiosk', credential: 'wrong-secret' }, 1);
      }
      expect(auth.check(hello('kiosk'), { ...TLS, address: '10.0.0.8' })).to.include({
        credential: 'ok',
      });
    });

    it('lets in the clients of a new table, and names those it no longer lets in', () => {
      const auth = gate(true);
      const revoked = auth.replace(new AuthTable([{ client: 'lab', secret: SECRET }]));
      expect(revoked).to.deep.equal(['kiosk']);
      expect(auth.check(hello('kiosk'), TLS)).to.include({ credential: 'unknown-client' });
      expect(auth.check(hello('lab'), TLS)).to.include({ credential: 'ok' });
    });
  });

  describe('exposureWarnings', () => {
    const warnings = (host: string, tls: boolean, authFile?: string, loose = false) =>
      exposureWarnings({ host, tls, authFile, authFileReadableByOthers: loose }).length;

    it('says nothing of a server on loopback, or of a TLS server with an auth file', () => {
      expect(warnings('127.0.0.1', false)).to.equal(0);
      expect(warnings('localhost', false, 'auth')).to.equal(0);
      expect(warnings('0.0.0.0', true, 'auth')).to.equal(0);
    });

    it('warns of clear text, and of no auth file, off loopback; and of an auth file others can read', () => {
      expect(warnings('0.0.0.0', false, 'auth')).to.equal(1);
      expect(warnings('0.0.0.0', true)).to.equal(1);
      expect(warnings('10.0.0.5', false)).to.equal(2);
      expect(warnings('127.0.0.1', false, 'auth', true)).to.equal(1);
    });
  });
});
