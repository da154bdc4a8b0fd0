import assert from 'node:assert/strict';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { INTEGRATION } from './support/integration';

/** The repository root: this file runs from dist-test/spec/. */
const ROOT = resolve(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');

/**
 * `npm run build` is what `npm ci` runs (through `prepare`) and what the bin, `npm start` and
 * `npm run demo` run from: dist/ must hold the product and nothing else, and dist/cli.js must
 * run as an installed command does, by its shebang and run bit.
 */
describe('the product build (npm run build) ' + INTEGRATION, function () {
  this.timeout(180_000);
  let build: SpawnSyncReturns<string>;

  before(() => {
    // A clean rebuild (no cli.js whose mode tsc would keep), except for what an older build
    // left behind (it compiled the tests into dist/), which must not survive.
    rmSync(DIST, { recursive: true, force: true });
    mkdirSync(join(DIST, 'spec'), { recursive: true });
    writeFileSync(join(DIST, 'spec', 'left-over.spec.js'), '');
    build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
  });

  it('succeeds', () => {
    assert.equal(build.status, 0, `${build.stdout}\n${build.stderr}`);
  });

  it('leaves the product in dist/, with the demo and its emulator, and no tests or benchmarks', () => {
    const top = readdirSync(DIST);
    for (const part of ['cli.js', 'broker', 'updater', 'sidecar', 'shared', 'demo', 'emulator', 'doctor'])
      assert.ok(top.includes(part), `dist/ lacks ${part}: ${top.join(', ')}`);
    assert.ok(!top.includes('spec'), 'dist/ holds spec/');
    assert.ok(!top.includes('bench'), 'dist/ holds bench/');
  });

  it('leaves dist/cli.js executable, answering --help when run directly as the bin is', () => {
    assert.equal(statSync(join(DIST, 'cli.js')).mode & 0o111, 0o111, 'dist/cli.js has no run bit');
    const help = spawnSync(join(DIST, 'cli.js'), ['--help'], {
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(help.status, 0, `${help.error ?? ''}\n${help.stderr}`);
    assert.match(help.stdout, /Usage: cf-app-discovery <command>/);
  });
});
