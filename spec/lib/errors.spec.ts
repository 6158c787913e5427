import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { describeError, ERROR_CODES, isErrorCode, MeteoError } from '../../lib/errors.js';

// mocha runs from the repository root, so the docs are found from there.
const ERRORS_DOC = readFileSync(join(process.cwd(), 'docs', 'errors.md'), 'utf8');
const PROTOCOL_DOC = readFileSync(join(process.cwd(), 'docs', 'PROTOCOL.md'), 'utf8');

/** The text of a markdown section, from its heading to the next heading of any level. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start, `heading ${JSON.stringify(heading)}`).to.be.at.least(0);
  const next = markdown.slice(start + heading.length + 2).search(/^#/m);
  return next < 0
    ? markdown.slice(start)
    : markdown.slice(start, start + heading.length + 2 + next);
}

/** The code in the first cell of each table row, as in "| `ERR_X` | ...". */
function tableCodes(markdown: string): string[] {
  return markdown
    .split('\n')
    .map((line) => /^\|\s*`(ERR_[A-Z_]+)`\s*\|/.exec(line)?.[1])
    .filter((code): code is string => code !== undefined);
}

const CODES = Object.keys(ERROR_CODES);

describe('lib/errors', () => {
  describe('docs/errors.md', () => {
    const documented = tableCodes(ERRORS_DOC);

    it('has a table row for every code in ERROR_CODES', () => {
      const missing = CODES.filter((code) => !documented.includes(code));
      expect(missing, 'codes missing from docs/errors.md').to.deep.equal([]);
    });

    it('names no code that ERROR_CODES lacks', () => {
      const mentioned = new Set(ERRORS_DOC.match(/ERR_[A-Z_]+/g) ?? []);
      const unknown = [...mentioned].filter((code) => !isErrorCode(code));
      expect(unknown, 'codes in docs/errors.md that lib/errors.ts lacks').to.deep.equal([]);
    });

    it('documents each code in one row only', () => {
      const twice = documented.filter((code, i) => documented.indexOf(code) !== i);
      expect(twice).to.deep.equal([]);
    });
  });

  describe('docs/PROTOCOL.md', () => {
    const onTheWire = tableCodes(section(ERRORS_DOC, '## On the wire'));
    const listed = tableCodes(section(PROTOCOL_DOC, '### 6.2 Codes on the wire'));

    it('lists in §6.2 exactly the codes docs/errors.md gives as wire codes', () => {
      expect(onTheWire, 'wire codes in docs/errors.md').to.have.length.above(10);
      expect([...listed].sort()).to.deep.equal([...onTheWire].sort());
    });

    it('lists in §6.2 only codes that ERROR_CODES has', () => {
      expect(listed.filter((code) => !isErrorCode(code))).to.deep.equal([]);
    });

    it('names no code anywhere that ERROR_CODES lacks', () => {
      const mentioned = new Set(PROTOCOL_DOC.match(/ERR_[A-Z_]+/g) ?? []);
      const unknown = [...mentioned].filter((code) => !isErrorCode(code));
      expect(unknown, 'codes in docs/PROTOCOL.md that lib/errors.ts lacks').to.deep.equal([]);
    });

    it('gives in §6.3 a step for every wire code a frame can cause', () => {
      const precedence = section(PROTOCOL_DOC, '### 6.3 Which error: the order of the checks');
      const byFrame = [
        'ERR_FRAME_TOO_LARGE',
        'ERR_BAD_MESSAGE',
        'ERR_HANDSHAKE_REQUIRED',
        'ERR_ALREADY_GREETED',
        'ERR_UNKNOWN_READING',
        'ERR_UNSUPPORTED_VERSION',
        'ERR_UNKNOWN_STATION',
        'ERR_AUTH_FAILED',
        'ERR_READING_UNAVAILABLE',
        'ERR_SENSOR_FAILED',
      ];
      expect(byFrame.filter((code) => !precedence.includes(`\`${code}\``))).to.deep.equal([]);
    });
  });

  describe('ERROR_CODES', () => {
    it('has only codes of the form ERR_UPPER_SNAKE, each with a description', () => {
      for (const [code, description] of Object.entries(ERROR_CODES)) {
        expect(code).to.match(/^ERR_[A-Z]+(_[A-Z]+)*$/);
        expect(description, code).to.be.a('string').that.is.not.empty;
      }
    });

    it('is recognised by isErrorCode, and nothing else is', () => {
      for (const code of CODES) expect(isErrorCode(code), code).to.equal(true);
      for (const other of ['ERR_NOPE', 'err_internal', 'toString', '__proto__', '', 42, null]) {
        expect(isErrorCode(other), String(other)).to.equal(false);
      }
    });
  });

  describe('MeteoError', () => {
    it('carries its code and message and is an Error', () => {
      const err = new MeteoError('ERR_SENSOR_FAILED', 'the barometer is wet');
      expect(err).to.be.instanceOf(Error);
      expect(err.code).to.equal('ERR_SENSOR_FAILED');
      expect(err.name).to.equal('MeteoError');
      expect(err.message).to.equal('the barometer is wet');
    });

    it('keeps the error that caused it', () => {
      const cause = new Error('underneath');
      expect(new MeteoError('ERR_INTERNAL', 'on top', { cause }).cause).to.equal(cause);
    });
  });

  describe('describeError', () => {
    it('gives "CODE: message" for a MeteoError', () => {
      expect(describeError(new MeteoError('ERR_BAD_VALUE', '--port must be an integer'))).to.equal(
        'ERR_BAD_VALUE: --port must be an integer',
      );
    });

    it('gives "CODE: message" for an error Node raised with a code', () => {
      let nodeError: unknown;
      try {
        new URL('not a url');
      } catch (err) {
        nodeError = err;
      }
      const { code, message } = nodeError as NodeJS.ErrnoException;
      expect(code).to.be.a('string');
      expect(describeError(nodeError)).to.equal(`${code}: ${message}`);
    });

    it('does not repeat a code the message already starts with, as Node file errors do', () => {
      const error = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), {
        code: 'ENOENT',
      });
      expect(describeError(error)).to.equal("ENOENT: no such file or directory, open 'x'");
    });

    it('gives the message alone for an error without a code', () => {
      expect(describeError(new TypeError('no code here'))).to.equal('no code here');
    });

    it('gives the text of a thrown value that is not an error', () => {
      expect(describeError('plain text')).to.equal('plain text');
      expect(describeError(42)).to.equal('42');
    });

    it('never shows a stack', () => {
      const line = describeError(new MeteoError('ERR_INTERNAL', 'boom'));
      expect(line).not.to.include('\n');
      expect(line).not.to.include('at ');
    });
  });
});
