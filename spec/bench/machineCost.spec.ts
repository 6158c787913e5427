/**
 * The machine-cost microbenchmark still runs (issue #4), briefly. No timing
 * is asserted: only that each of the four ways was measured for each actor
 * count, and that every request got its reply (the bench checks that itself
 * and fails otherwise).
 */
import { execFile } from 'node:child_process';
import { expect } from 'chai';

const BENCH = 'dist/bench/machineCost.js';

function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BENCH, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('bench: node dist/bench/machineCost.js', function () {
  this.timeout(60_000);

  it('measures the machine compiled, on the interpreter, a bare machine and no machine for 1, 50 and 1,000 actors', async () => {
    const { code, stdout, stderr } = await run(['--requests', '2000', '--runs', '1']);
    expect(code, stderr).to.equal(0);
    const rows = stdout
      .split('\n')
      .filter((line) => /^\| [\d,]+ \|/.test(line))
      .map((line) =>
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => Number(cell.trim().replace(',', ''))),
      );
    expect(rows.map((row) => row[0])).to.deep.equal([1, 50, 1000]);
    for (const row of rows) {
      expect(row).to.have.length(5);
      for (const microseconds of row.slice(1)) expect(microseconds).to.be.greaterThan(0);
    }
  });

  it('refuses a bad flag with one line and status 2', async () => {
    const { code, stdout, stderr } = await run(['--requests', 'many']);
    expect(code).to.equal(2);
    expect(stdout).to.equal('');
    expect(stderr.trim().split('\n')).to.have.length(1);
    expect(stderr).to.match(/^meteo-machine-cost: ERR_BAD_VALUE/);
  });
});
