/**
 * Mocha's spec reporter, plus two things CI needs (.ci/run):
 * - a summary file (path in METEO_TEST_SUMMARY) that .ci/run turns into its
 *   closing "N passed, N failed" line;
 * - a check that every compiled spec file ran at least one test. On Node 20
 *   an ESM spec whose top level throws can be skipped without a failure;
 *   here such a file counts as one failed test, so the run goes red.
 */
import fs = require('node:fs');
import path = require('node:path');
import Mocha = require('mocha');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
    super(runner, options);
    const filesWithTests = new Set<string>();
    runner.on(Mocha.Runner.constants.EVENT_TEST_BEGIN, (test) => {
      if (test.file) filesWithTests.add(path.resolve(test.file));
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      // The files mocha resolved from its spec globs: each should have run something.
      const files = new Set(
        ((options as { files?: string[] }).files ?? []).map((file) => path.resolve(file)),
      );
      const silent = [...files].filter((file) => !filesWithTests.has(file));
      for (const file of silent) {
        console.log(
          `\n  ✗ ${path.relative(process.cwd(), file)} ran no tests: did its top level throw?`,
        );
      }
      runner.failures += silent.length;
      const stats = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      const summary = {
        passed: stats.passes,
        failed: stats.failures + silent.length,
        pending: stats.pending,
        silentFiles: silent.map((file) => path.relative(process.cwd(), file)),
      };
      const target = process.env['METEO_TEST_SUMMARY'];
      if (target) fs.writeFileSync(target, `${JSON.stringify(summary)}\n`);
    });
  }
}

export = SummaryReporter;
