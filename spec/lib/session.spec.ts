/**
 * The protocol session (lib/session.ts) that the product's connection machine
 * and the bench's baseline server share: the precedence of docs/PROTOCOL.md
 * §6.3 as the decoder and `admit` apply it together, the id an error echoes
 * (§6.4), what counts as a request for the idle timer (§7), and how results
 * become replies.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  type ClientMessage,
  decodeClientMessage,
  type ErrorReply,
  PROTOCOL_VERSION,
  type Rejected,
  UNITS,
  type Welcome,
} from '../../lib/protocol.js';
import {
  AUTH_FAILURE_REASONS,
  admit,
  assemble,
  type CheckedHello,
  isRequest,
  NEW_SESSION,
  readsOf,
  type Session,
  type WorkItem,
} from '../../lib/session.js';

const SEATTLE = { id: 'seattle', name: 'Seattle', latitude: 47, longitude: -122, elevation: 56 };
const REYKJAVIK = {
  id: 'reykjavik',
  name: 'Reykjavík',
  latitude: 64,
  longitude: -22,
  elevation: 52,
};

const WELCOME: Welcome = {
  type: 'welcome',
  version: PROTOCOL_VERSION,
  server: 'meteo-actors/test',
  station: SEATTLE,
  stations: [SEATTLE, REYKJAVIK],
  units: UNITS,
};

const GREETED: Session = { greeted: true, endedBy: null };

/** Bytes from hex written with spaces for readability. */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** A MessagePack fixstr. */
function fixstr(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([0xa0 | bytes.length]), bytes]).toString('hex');
}

/** A body: a fixmap of the given entries, each a key and the hex of its value. */
function body(...entries: (readonly [string, string])[]): Buffer {
  return hex(
    (0x80 | entries.length).toString(16) +
      entries.map(([key, value]) => fixstr(key) + value.replace(/\s+/g, '')).join(''),
  );
}

/** Admits `messages` into `session`; the work it made and the session after. */
function run(
  session: Session,
  ...messages: (ClientMessage | Rejected)[]
): { work: WorkItem[]; after: Session } {
  const work: WorkItem[] = [];
  const after = admit(session, WELCOME, messages, 1_000, work);
  return { work, after };
}

/** What one frame body gets in `session`: a sensor read to make, or the code of its reply. */
function answerTo(session: Session, bytes: Buffer): { code: string; id: number | null } {
  const [item] = run(session, decodeClientMessage(bytes)).work;
  if (item === undefined) throw new Error('no work for the frame');
  if (item.kind === 'read') return { code: 'read', id: item.id };
  const { message } = item.reply;
  return message.type === 'error'
    ? { code: message.code, id: message.id }
    : { code: message.type, id: null };
}

describe('lib/session', () => {
  describe('the precedence of docs/PROTOCOL.md §6.3, decoder and session together', () => {
    const READ = fixstr('read');
    const HELLO = fixstr('hello');
    const cases: readonly (readonly [string, Session, Buffer, string, number | null])[] = [
      // Step 2 before all: a body that is not a well-formed map, whatever the session.
      ['a body that is not a map, before hello', NEW_SESSION, hex('c1'), 'ERR_BAD_MESSAGE', null],
      [
        'a read with a key twice, before hello',
        NEW_SESSION,
        body(['type', READ], ['id', '07'], ['id', '07'], ['reading', fixstr('rainfall')]),
        'ERR_BAD_MESSAGE',
        null,
      ],
      // Step 3, the type, before the handshake: only a known type can need a handshake.
      [
        'an unknown type with a valid id, before hello',
        NEW_SESSION,
        body(['type', fixstr('write')], ['id', '07']),
        'ERR_BAD_MESSAGE',
        7,
      ],
      // Step 4, the handshake, before every field.
      [
        'a read of an unknown reading, before hello',
        NEW_SESSION,
        body(['type', READ], ['id', '07'], ['reading', fixstr('humidity')]),
        'ERR_HANDSHAKE_REQUIRED',
        7,
      ],
      [
        'a read of an unknown station, before hello',
        NEW_SESSION,
        body(
          ['type', READ],
          ['id', '07'],
          ['reading', fixstr('rainfall')],
          ['station', fixstr('atlantis')],
        ),
        'ERR_HANDSHAKE_REQUIRED',
        7,
      ],
      [
        'a read whose reading is a number, before hello',
        NEW_SESSION,
        body(['type', READ], ['id', '07'], ['reading', '03']),
        'ERR_HANDSHAKE_REQUIRED',
        7,
      ],
      [
        'a read whose id is a float, before hello',
        NEW_SESSION,
        body(['type', READ], ['id', 'cb3ff0000000000000'], ['reading', fixstr('rainfall')]),
        'ERR_HANDSHAKE_REQUIRED',
        null,
      ],
      [
        'a second hello whose version is a str',
        GREETED,
        body(['type', HELLO], ['version', fixstr('1')]),
        'ERR_ALREADY_GREETED',
        null,
      ],
      [
        'a second hello of another version, with an id',
        GREETED,
        body(['type', HELLO], ['version', '02'], ['id', 'cd0100']),
        'ERR_ALREADY_GREETED',
        256,
      ],
      [
        'a second hello whose auth is not a map',
        GREETED,
        body(['type', HELLO], ['version', '01'], ['auth', fixstr('kiosk')]),
        'ERR_ALREADY_GREETED',
        null,
      ],
      // Step 5, the fields, before the values.
      [
        'a first hello whose auth is not a map, with an id',
        NEW_SESSION,
        body(['type', HELLO], ['version', '01'], ['auth', fixstr('kiosk')], ['id', '05']),
        'ERR_BAD_MESSAGE',
        5,
      ],
      [
        'a first hello of version 2 whose auth lacks a secret',
        NEW_SESSION,
        body(['type', HELLO], ['version', '02'], ['auth', `81${fixstr('name')}${fixstr('k')}`]),
        'ERR_BAD_MESSAGE',
        null,
      ],
      [
        'a first hello with a credential, to a server that checks none',
        NEW_SESSION,
        body(
          ['type', HELLO],
          ['version', '01'],
          ['auth', `82${fixstr('name')}${fixstr('k')}${fixstr('secret')}${fixstr('s')}`],
        ),
        'welcome',
        null,
      ],
      [
        'a first hello whose version is negative',
        NEW_SESSION,
        body(['type', HELLO], ['version', 'ff']),
        'ERR_BAD_MESSAGE',
        null,
      ],
      [
        'a read whose station is a number and whose reading is unknown',
        GREETED,
        body(['type', READ], ['id', '07'], ['reading', fixstr('humidity')], ['station', '01']),
        'ERR_BAD_MESSAGE',
        7,
      ],
      // Step 6, the values: the version, and the reading before the station.
      [
        'a first hello of version 2, with an id',
        NEW_SESSION,
        body(['type', HELLO], ['version', '02'], ['id', '05']),
        'ERR_UNSUPPORTED_VERSION',
        5,
      ],
      [
        'a read of an unknown reading at an unknown station',
        GREETED,
        body(
          ['type', READ],
          ['id', '07'],
          ['reading', fixstr('humidity')],
          ['station', fixstr('atlantis')],
        ),
        'ERR_UNKNOWN_READING',
        7,
      ],
      // Step 7, the station.
      [
        'a read of a known reading at an unknown station',
        GREETED,
        body(
          ['type', READ],
          ['id', '07'],
          ['reading', fixstr('rainfall')],
          ['station', fixstr('atlantis')],
        ),
        'ERR_UNKNOWN_STATION',
        7,
      ],
      [
        'a read of the empty station id',
        GREETED,
        body(['type', READ], ['id', '07'], ['reading', fixstr('rainfall')], ['station', 'a0']),
        'ERR_UNKNOWN_STATION',
        7,
      ],
      [
        'a read of a station id longer than 64 bytes',
        GREETED,
        body(
          ['type', READ],
          ['id', '07'],
          ['reading', fixstr('rainfall')],
          ['station', `d941${'61'.repeat(65)}`],
        ),
        'ERR_UNKNOWN_STATION',
        7,
      ],
      // Then the sensor.
      [
        'a read of a served station',
        GREETED,
        body(
          ['type', READ],
          ['id', '07'],
          ['reading', fixstr('rainfall')],
          ['station', fixstr('reykjavik')],
        ),
        'read',
        7,
      ],
    ];

    for (const [what, session, bytes, code, id] of cases) {
      it(`answers ${what} with ${code}, id ${id}`, () => {
        expect(answerTo(session, bytes)).to.deep.equal({ code, id });
      });
    }
  });

  describe('admit', () => {
    it('welcomes a hello of its version and greets the session', () => {
      const { work, after } = run(NEW_SESSION, { type: 'hello', version: PROTOCOL_VERSION });
      expect(work).to.deep.equal([
        {
          kind: 'reply',
          reply: { message: WELCOME, reading: null, station: null, receivedAt: 1_000 },
        },
      ]);
      expect(after).to.deep.equal({ greeted: true, endedBy: null });
    });

    it('takes no message after an unsupported version, and says so in the session', () => {
      const { work, after } = run(
        NEW_SESSION,
        { type: 'hello', version: 2 },
        { type: 'hello', version: PROTOCOL_VERSION },
        { type: 'read', id: 1, reading: 'pressure' },
      );
      expect(work).to.have.length(1);
      expect(after).to.deep.equal({ greeted: false, endedBy: 'ERR_UNSUPPORTED_VERSION' });
    });

    describe('a hello whose credential was checked (issue #14)', () => {
      const checked = (credential: CheckedHello['credential'], id?: number): CheckedHello => ({
        type: 'hello',
        version: PROTOCOL_VERSION,
        client: 'kiosk',
        credential,
        ...(id === undefined ? {} : { id }),
      });

      it('welcomes an accepted credential, and marks the welcome with the client', () => {
        const { work, after } = run(NEW_SESSION, checked('ok'));
        const [item] = work;
        expect(item?.kind === 'reply' && item.reply.message).to.equal(WELCOME);
        expect(item?.kind === 'reply' && item.reply.hello).to.deep.equal({
          client: 'kiosk',
          credential: 'ok',
        });
        expect(after).to.deep.equal({ greeted: true, endedBy: null });
      });

      for (const reason of AUTH_FAILURE_REASONS) {
        it(`answers a credential refused as ${reason} with ERR_AUTH_FAILED, echoing the id, and ends the session`, () => {
          const { work, after } = run(
            NEW_SESSION,
            checked(reason, 3),
            { type: 'hello', version: PROTOCOL_VERSION },
            { type: 'read', id: 1, reading: 'pressure' },
          );
          expect(work).to.have.length(1);
          const [item] = work;
          expect(item?.kind === 'reply' && item.reply.message).to.deep.include({
            type: 'error',
            id: 3,
            code: 'ERR_AUTH_FAILED',
          });
          expect(item?.kind === 'reply' && item.reply.hello).to.deep.equal({
            client: 'kiosk',
            credential: reason,
          });
          expect(after).to.deep.equal({ greeted: false, endedBy: 'ERR_AUTH_FAILED' });
        });
      }

      it('says the same words whatever the reason: the reply does not tell which part was wrong', () => {
        const messages = AUTH_FAILURE_REASONS.map((reason) => {
          const [item] = run(NEW_SESSION, checked(reason)).work;
          return item?.kind === 'reply' ? item.reply.message : undefined;
        });
        expect(new Set(messages.map((message) => JSON.stringify(message))).size).to.equal(1);
      });

      it('answers an unsupported version before the credential (§6.3: which protocol, then who)', () => {
        const [item] = run(NEW_SESSION, { ...checked('wrong-secret'), version: 2 }).work;
        expect(item?.kind === 'reply' && item.reply.message).to.deep.include({
          code: 'ERR_UNSUPPORTED_VERSION',
        });
      });

      it('answers a second hello ERR_ALREADY_GREETED whatever its credential', () => {
        const [item] = run(GREETED, checked('wrong-secret')).work;
        expect(item?.kind === 'reply' && item.reply.message).to.deep.include({
          code: 'ERR_ALREADY_GREETED',
        });
        expect(item?.kind === 'reply' && item.reply.hello).to.equal(undefined);
      });

      it('welcomes a hello nobody checked, as a server without an auth file does', () => {
        const [item] = run(NEW_SESSION, { type: 'hello', version: PROTOCOL_VERSION }).work;
        expect(item?.kind === 'reply' && item.reply.hello).to.equal(undefined);
      });
    });

    it('answers a rejected frame that claimed no type with its own error, greeted or not', () => {
      const junk: Rejected = { type: 'rejected', id: 4, code: 'ERR_BAD_MESSAGE', message: 'no' };
      for (const session of [NEW_SESSION, GREETED]) {
        const [item] = run(session, junk).work;
        expect(item?.kind === 'reply' && item.reply.message).to.deep.include({
          type: 'error',
          id: 4,
          code: 'ERR_BAD_MESSAGE',
        });
      }
    });

    it('reads the default station for a read that names none, and the named one by its place', () => {
      const { work } = run(
        GREETED,
        { type: 'read', id: 1, reading: 'pressure' },
        { type: 'read', id: 2, reading: 'rainfall', station: 'reykjavik' },
      );
      expect(readsOf(work).map(({ id, station }) => [id, station])).to.deep.equal([
        [1, 0],
        [2, 1],
      ]);
    });

    it('returns the same session object when nothing about it changed', () => {
      expect(run(GREETED, { type: 'read', id: 1, reading: 'pressure' }).after).to.equal(GREETED);
    });

    it('gives exactly one work item per message, in order, until the session ends (property)', () => {
      const message: fc.Arbitrary<ClientMessage | Rejected> = fc.oneof(
        fc.record({ type: fc.constant('hello' as const), version: fc.constantFrom(1, 1, 2) }),
        fc.record(
          {
            type: fc.constant('read' as const),
            id: fc.nat(),
            reading: fc.constant('pressure' as const),
            station: fc.constantFrom('seattle', 'reykjavik', 'atlantis'),
          },
          { requiredKeys: ['type', 'id', 'reading'] },
        ),
        fc.record(
          {
            type: fc.constant('rejected' as const),
            id: fc.option(fc.nat(), { nil: null }),
            code: fc.constantFrom('ERR_BAD_MESSAGE' as const, 'ERR_UNKNOWN_READING' as const),
            message: fc.constant('test'),
            claimed: fc.constantFrom('hello' as const, 'read' as const),
          },
          { requiredKeys: ['type', 'id', 'code', 'message'] },
        ),
      );
      fc.assert(
        fc.property(fc.boolean(), fc.array(message, { maxLength: 20 }), (greeted, messages) => {
          const { work, after } = run({ greeted, endedBy: null }, ...messages);
          const ended = messages.findIndex(
            (m, i) =>
              m.type === 'hello' &&
              m.version !== PROTOCOL_VERSION &&
              !(greeted || messages.slice(0, i).some((h) => h.type === 'hello' && h.version === 1)),
          );
          expect(work).to.have.length(ended < 0 ? messages.length : ended + 1);
          expect(after.endedBy).to.equal(ended < 0 ? null : 'ERR_UNSUPPORTED_VERSION');
          // Each reply answers its own message: an error carries that message's id, if any.
          work.forEach((item, i) => {
            const sent = messages[i] as ClientMessage | Rejected;
            const id = item.kind === 'read' ? item.id : (item.reply.message as ErrorReply).id;
            if (item.kind === 'read' || item.reply.message.type === 'error') {
              expect(id, JSON.stringify(sent)).to.equal('id' in sent ? (sent.id ?? null) : null);
            }
          });
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('isRequest', () => {
    it('holds for a hello and a read, whatever the session will answer them', () => {
      expect(isRequest({ type: 'hello', version: 2 })).to.equal(true);
      expect(isRequest({ type: 'read', id: 1, reading: 'pressure', station: 'atlantis' })).to.equal(
        true,
      );
    });

    it('does not hold for an empty, malformed or rejected frame', () => {
      for (const bytes of [
        Buffer.alloc(0),
        hex('c1'),
        body(['type', fixstr('write')]),
        body(['type', fixstr('read')], ['id', '07'], ['reading', fixstr('humidity')]),
      ]) {
        expect(isRequest(decodeClientMessage(bytes)), bytes.toString('hex')).to.equal(false);
      }
    });

    it('holds for what the decoder makes of a well-formed hello or read', () => {
      for (const bytes of [
        body(['type', fixstr('hello')], ['version', '02']),
        body(['type', fixstr('read')], ['id', '07'], ['reading', fixstr('rainfall')]),
      ]) {
        expect(isRequest(decodeClientMessage(bytes)), bytes.toString('hex')).to.equal(true);
      }
    });
  });

  describe('assemble', () => {
    it('puts each read result in its place among the replies already known', () => {
      const { work } = run(
        GREETED,
        { type: 'read', id: 1, reading: 'pressure' },
        { type: 'rejected', id: 2, code: 'ERR_BAD_MESSAGE', message: 'no' },
        { type: 'read', id: 3, reading: 'rainfall' },
      );
      const replies = assemble(WELCOME, work, [
        { value: 1013.2, observedAt: Date.UTC(2026, 10, 26) },
        { code: 'ERR_READING_UNAVAILABLE', message: 'no rain gauge' },
      ]);
      expect(
        replies.map(({ message }) => [message.type, (message as { id?: number }).id]),
      ).to.deep.equal([
        ['reading', 1],
        ['error', 2],
        ['error', 3],
      ]);
      expect(replies[0]?.message).to.deep.include({
        station: 'seattle',
        unit: 'hPa',
        value: 1013.2,
      });
      expect(replies[2]?.message).to.include({ code: 'ERR_READING_UNAVAILABLE' });
    });

    it('answers ERR_SENSOR_FAILED for a read whose result is missing', () => {
      const { work } = run(GREETED, { type: 'read', id: 1, reading: 'pressure' });
      const [reply] = assemble(WELCOME, work, []);
      expect(reply?.message).to.include({ type: 'error', id: 1, code: 'ERR_SENSOR_FAILED' });
    });
  });
});
