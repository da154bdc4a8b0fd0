import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { INTEGRATION } from './support/integration';

describe('npm run demo ' + INTEGRATION, function () {
  this.timeout(60_000);

  it('runs to completion on a fresh checkout, showing each step and the file_sd files, and exits 0', async () => {
    const { status, stdout } = await new Promise<{ status: number | null; stdout: string }>((done) => {
      const child = spawn(process.execPath, [resolve(__dirname, '..', 'cli.js'), 'demo'], {
        env: { PATH: process.env.PATH ?? '' },
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('close', (code) => done({ status: code, stdout: out }));
    });
    assert.equal(status, 0, stdout);
    assert.match(
      stdout,
      /cf create-service prometheus default demo-monitoring\n\s+PUT \/v2\/service_instances\/demo-monitoring -> 201/,
    );
    assert.match(
      stdout,
      /b-shop\.json: 4 target group\(s\) -> shop\.apps\.example\.com\/metrics job=shop/,
      'scale followed',
    );
    assert.match(stdout, /job=legacy org=demo-org/, '-venerable stripped');
    assert.equal(
      stdout.match(/followed from the CC's audit events in \d+\.\d s \(no POST \/update-targets\)/g)?.length,
      4,
      'scale, stop, delete and start followed from the audit events',
    );
    assert.match(stdout, /team=payments/, 'bind parameters applied');
    assert.match(stdout, /service key \(RequiresApp\) -> 422/);
    assert.match(stdout, /demo finished: every step answered as Cloud Foundry expects/);
    assert.doesNotMatch(stdout, /expected \d{3}\)/);
  });
});
