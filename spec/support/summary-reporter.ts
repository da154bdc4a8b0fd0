import Mocha from 'mocha';

/**
 * The spec reporter, plus one plain closing line ("tests: N passed, N failed, N skipped")
 * that CI tooling reads whatever the runner.
 */
class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on('pass', () => passed++);
    runner.on('fail', () => failed++);
    runner.on('pending', () => skipped++);
    runner.once('end', () => {
      process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    });
  }
}

export = SummaryReporter;
