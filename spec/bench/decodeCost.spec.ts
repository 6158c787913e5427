/**
 * The decode-cost microbenchmark still runs (issue #12), briefly. No timing
 * is asserted: only that every body was measured.
 */
import { expect } from 'chai';
import { type ProgramRun, runScript } from '../helpers/program.js';

const BENCH = 'dist/bench/decodeCost.js';

function run(args: readonly string[]): Promise<ProgramRun> {
  return runScript(BENCH, args);
}

describe('bench: node dist/bench/decodeCost.js', function () {
  this.timeout(60_000);

  it('prints a median and a best time for each body it decodes', async () => {
    const { code, stdout, stderr } = await run(['--decodes', '1000', '--runs', '3']);
    expect(code, stderr).to.equal(0);
    const rows = stdout
      .split('\n')
      .filter((line) => /^\| [a-z]/.test(line) && !line.startsWith('| body'));
    expect(rows.length).to.be.at.least(4);
    for (const row of rows) {
      const [, , median, best] = row
        .split('|')
        .slice(1, -1)
        .map((cell) => Number(cell.trim()));
      expect(median, row).to.be.greaterThan(0);
      expect(best, row)
        .to.be.greaterThan(0)
        .and.at.most(median as number);
    }
  });

  it('refuses a bad flag with one line and status 2', async () => {
    const { code, stdout, stderr } = await run(['--runs', 'many']);
    expect(code).to.equal(2);
    expect(stdout).to.equal('');
    expect(stderr.trim().split('\n')).to.have.length(1);
    expect(stderr).to.match(/^meteo-decode-cost: ERR_BAD_VALUE/);
  });
});
