import { expect } from 'chai';
import {
  createLogger,
  formatLine,
  LOG_LEVELS,
  type LogLevel,
  silentLogger,
} from '../../lib/log.js';

const T0 = new Date('2026-11-26T13:05:00.123Z');

/** A logger at `minimum` and the lines it wrote. */
function capture(minimum?: LogLevel) {
  const lines: string[] = [];
  const logger = createLogger((line) => lines.push(line), minimum);
  return { logger, lines };
}

/** The level word of each line: the second field. */
function levels(lines: readonly string[]): string[] {
  return lines.map((line) => line.split(/\s+/)[1] ?? '');
}

function logAll(logger: ReturnType<typeof createLogger>): void {
  logger.debug('d');
  logger.info('i');
  logger.warn('w');
  logger.error('e');
}

describe('lib/log', () => {
  describe('level filtering', () => {
    const expected: Record<LogLevel, string[]> = {
      debug: ['DEBUG', 'INFO', 'WARN', 'ERROR'],
      info: ['INFO', 'WARN', 'ERROR'],
      warn: ['WARN', 'ERROR'],
      error: ['ERROR'],
      silent: [],
    };

    for (const minimum of LOG_LEVELS) {
      it(`writes ${expected[minimum].join(', ') || 'nothing'} at minimum level ${minimum}`, () => {
        const { logger, lines } = capture(minimum);
        logAll(logger);
        expect(levels(lines)).to.deep.equal(expected[minimum]);
      });
    }

    it('writes info and above by default', () => {
      const { logger, lines } = capture();
      logAll(logger);
      expect(levels(lines)).to.deep.equal(['INFO', 'WARN', 'ERROR']);
    });

    it('offers a silent logger that takes every level', () => {
      expect(() => logAll(silentLogger)).not.to.throw();
    });

    it('writes one line per call, without a newline inside', () => {
      const { logger, lines } = capture('debug');
      logger.info('started', { port: 7210 });
      expect(lines).to.have.length(1);
      expect(lines[0]).not.to.include('\n');
    });
  });

  describe('formatLine', () => {
    it('starts with the ISO time, the padded level and the message', () => {
      expect(formatLine('info', 'listening', undefined, T0)).to.equal(
        '2026-11-26T13:05:00.123Z INFO  listening',
      );
      expect(formatLine('error', 'listening', undefined, T0)).to.equal(
        '2026-11-26T13:05:00.123Z ERROR listening',
      );
    });

    it('appends each field as key=value, in order', () => {
      const line = formatLine('info', 'poll', { connection: 2, ok: true, code: null }, T0);
      expect(line).to.match(/ poll connection=2 ok=true code=null$/);
    });

    it('leaves out a field whose value is undefined', () => {
      const line = formatLine('warn', 'poll', { a: 1, skipped: undefined, b: 'x' }, T0);
      expect(line).to.match(/ poll a=1 b=x$/);
    });

    it('quotes a string value holding a space, a quote or an equals sign', () => {
      const line = formatLine('info', 'm', { a: 'two words', b: 'say "hi"', c: 'k=v' }, T0);
      expect(line).to.match(/ m a="two words" b="say \\"hi\\"" c="k=v"$/);
    });

    it('keeps a value holding a newline on the one line', () => {
      const line = formatLine('error', 'm', { stack: 'one\ntwo' }, T0);
      expect(line).not.to.include('\n');
      expect(line).to.match(/ stack="one\\ntwo"$/);
    });

    it('leaves a plain string value unquoted', () => {
      expect(formatLine('info', 'm', { host: '127.0.0.1' }, T0)).to.match(/ host=127\.0\.0\.1$/);
    });
  });
});
