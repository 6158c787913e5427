/**
 * The benchmark still runs (issue #4): `npm run bench -- --quick --json`,
 * the same code path as a full run, for about a second against each server.
 * No timing is asserted; only that it measured something and saw no error.
 */
import { execFile } from 'node:child_process';
import { expect } from 'chai';
import type { BenchReport } from '../../bench/report.js';

const RUN = 'dist/bench/run.js';

function runBench(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUN, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('bench: npm run bench -- --quick --json', function () {
  this.timeout(90_000);

  it('measures the product and the baseline under 50x1 and prints sane figures, ratios included, with no errors', async () => {
    const { code, stdout, stderr } = await runBench(['--quick', '--json']);
    expect(code, stderr).to.equal(0);
    const report = JSON.parse(stdout) as BenchReport;
    expect(report.errors).to.equal(0);
    expect(report.machine.cpus).to.be.greaterThan(0);
    const configuration = report.configurations['50x1'];
    if (configuration?.kind !== 'throughput')
      throw new Error('no 50x1 configuration in the report');
    for (const server of [configuration.product, configuration.baseline]) {
      if (!server) throw new Error('a server is missing from the report');
      expect(server.errors).to.equal(0);
      expect(server.requestsPerSecond).to.be.greaterThan(0);
      expect(server.latencyP50Us).to.be.greaterThan(0);
      expect(server.latencyP999Us).to.be.at.least(server.latencyP50Us);
      expect(server.serverCpuUsPerRequest).to.be.greaterThan(0);
      expect(server.serverRssMiB).to.be.greaterThan(0);
    }
    expect(configuration.ratio.requestsPerSecond).to.be.a('number').and.greaterThan(0);
    expect(configuration.ratio.latencyP99Us).to.be.a('number').and.greaterThan(0);
    expect(configuration.ratio.serverCpuUsPerRequest).to.be.a('number').and.greaterThan(0);
  });

  it('runs both servers over TLS with --tls, the load generator checking their certificate (issue #14)', async () => {
    const { code, stdout, stderr } = await runBench(['--quick', '--json', '--tls', '--tls-resume']);
    expect(code, stderr).to.equal(0);
    const report = JSON.parse(stdout) as BenchReport;
    expect(report.settings.transport).to.equal('tls, resumed sessions');
    expect(report.errors).to.equal(0);
    const configuration = report.configurations['50x1'];
    if (configuration?.kind !== 'throughput') throw new Error('no 50x1 configuration');
    expect(configuration.product?.requestsPerSecond).to.be.greaterThan(0);
    expect(configuration.baseline?.requestsPerSecond).to.be.greaterThan(0);
    // Neither server warned of anything, its certificate included.
    expect(configuration.product?.serverWarnings).to.equal(0);
  });

  it('refuses a bad flag with exit code 2 and one line naming it', async () => {
    const { code, stderr } = await runBench(['--configs', '50y1']);
    expect(code).to.equal(2);
    expect(stderr).to.match(/--configs/);
  });
});
