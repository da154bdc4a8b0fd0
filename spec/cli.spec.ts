import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { INTEGRATION } from './support/integration';

const CLI = resolve(__dirname, '..', 'cli.js');

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 10_000,
  });
}

describe('the cf-app-discovery command ' + INTEGRATION, () => {
  it('--help lists the commands and every setting', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: cf-app-discovery <command>/);
    assert.match(r.stdout, /broker\s+run the Open Service Broker API server/);
    for (const v of ['BROKER_USERNAME', 'CF_API_URL', 'STORE_DIR', 'S3_BUCKET', 'PLAN_NAME'])
      assert.match(r.stdout, new RegExp(v));
  });

  it('rejects an unknown command', () => {
    const r = run(['frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });

  it('rejects a command name that only exists on every JavaScript object', () => {
    for (const name of ['toString', 'constructor', '__proto__']) {
      const r = run([name], { STORE: 's3' });
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`unknown command "${name}"`));
    }
  });

  describe('each command takes only its own flags', () => {
    // The settings are incomplete on purpose: a command that ignored a wrong flag would stop
    // on its configuration (78) instead, or start.
    for (const command of ['broker', 'updater', 'sidecar', 'all', 'demo', 'doctor']) {
      it(`${command}: an unknown flag exits 2 naming it, before anything starts`, () => {
        const r = run([command, '--dri', 'x']);
        assert.equal(r.status, 2, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`^cf-app-discovery ${command}: unknown option --dri; run cf-app-discovery ${command} --help\n$`),
        );
        assert.equal(r.stdout, '');
      });
    }

    it('a flag of another command is unknown too', () => {
      const r = run(['broker', '--once']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /broker: unknown option --once/);
    });

    it('an unknown short flag and a stray argument are refused', () => {
      let r = run(['all', '-x']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /all: unknown option -x;/);
      r = run(['broker', 'extra']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /broker: unexpected argument "extra"/);
    });

    it('a flag missing its value exits 2 naming it, as does a switch given one', () => {
      let r = run(['sidecar', '--once', '--dir']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /sidecar: --dir needs a value \(--dir DIR\)/);
      r = run(['all', '--dir']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /all: --dir needs a value/);
      r = run(['sidecar', '--dir', 'targets', '--metrics-port']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /sidecar: --metrics-port needs a value \(--metrics-port N\)/);
      r = run(['updater', '--once=yes']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /updater: --once takes no value/);
    });
  });

  describe('<command> --help lists its flags and the settings it reads', () => {
    const expected: Record<string, { flags: string[]; reads: string[]; ignores: string[] }> = {
      broker: {
        flags: [],
        reads: [
          'BROKER_USERNAME',
          'BROKER_PASSWORD',
          'HOST',
          'PORT',
          'CF_API_URL',
          'STORE_DIR',
          'TARGETS_USERNAME',
          'PLAN_NAME',
        ],
        ignores: ['SYNC_INTERVAL_SECONDS', 'UPDATE_SCHEDULE', 'SIDECAR_METRICS_PORT'],
      },
      updater: {
        flags: ['--once'],
        reads: [
          'CF_API_URL',
          'CF_CLIENT_SECRET',
          'UPDATE_SCHEDULE',
          'RECONCILE_TIMEOUT_SECONDS',
          'S3_BUCKET',
          'METRICS_USERNAME',
        ],
        ignores: ['BROKER_PASSWORD', 'HOST', 'SYNC_INTERVAL_SECONDS'],
      },
      sidecar: {
        flags: ['--dir DIR', '--once', '--metrics-port N'],
        reads: ['STORE', 'S3_PREFIX', 'SYNC_INTERVAL_SECONDS', 'SIDECAR_METRICS_PORT', 'SIDECAR_MAX_REMOVE_SHARE'],
        ignores: ['BROKER_USERNAME', 'CF_API_URL', 'UPDATE_SCHEDULE', 'PORT'],
      },
      all: {
        flags: ['--dir DIR'],
        reads: [
          'BROKER_PASSWORD',
          'CF_API_URL',
          'UPDATE_SCHEDULE',
          'SYNC_INTERVAL_SECONDS',
          'SIDECAR_METRICS_PORT',
          'STORE_DIR',
        ],
        ignores: [],
      },
      demo: { flags: ['--keep'], reads: ['PORT', 'LOG_LEVEL'], ignores: ['BROKER_USERNAME', 'CF_API_URL', 'STORE'] },
    };
    for (const [command, want] of Object.entries(expected)) {
      it(command, () => {
        for (const help of ['--help', '-h']) {
          const r = run([command, help]);
          assert.equal(r.status, 0, r.stderr);
          assert.match(r.stdout, new RegExp(`^Usage: cf-app-discovery ${command}\\b`));
          const words = (line: string) => line.trim().split(/\s{2,}/)[0];
          const lines = r.stdout.split('\n');
          const options = lines
            .slice(lines.indexOf('Options:') + 1, lines.indexOf('', lines.indexOf('Options:')))
            .map(words);
          assert.deepEqual(options, [...want.flags, '-h, --help'], 'flags, each with its value');
          const settings = new Set(lines.filter((l) => /^ {2}[A-Z][A-Z0-9_]+ /.test(l)).map(words));
          for (const s of want.reads) assert.ok(settings.has(s), `${command} --help names ${s}`);
          for (const s of want.ignores) assert.ok(!settings.has(s), `${command} --help does not name ${s}`);
        }
      });
    }
  });

  it('refuses to start the broker without credentials, with one line naming the variable', () => {
    const r = run(['broker']);
    assert.equal(r.status, 78);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /BROKER_USERNAME: is required/);
  });

  it('refuses an invalid value and names it', () => {
    const r = run(['broker'], { BROKER_USERNAME: 'a', BROKER_PASSWORD: 'b', STORE: 'ftp' });
    assert.equal(r.status, 78);
    assert.match(r.stderr, /STORE: must be fs or s3/);
  });

  it('refuses APP_LABELS that would make a reserved target label, in every command that renders', () => {
    const creds = {
      BROKER_USERNAME: 'broker',
      BROKER_PASSWORD: 'k7Qm-2vXr-9pLw',
      CF_API_URL: 'http://127.0.0.1:9',
      PORT: '0',
    };
    for (const [command, labels] of [
      ['broker', 'team,instance'],
      ['updater', 'example.com/job'],
    ] as const) {
      const r = run([command, '--once'].slice(0, command === 'updater' ? 2 : 1), {
        ...creds,
        CF_USERNAME: 'u',
        CF_PASSWORD: 'p',
        APP_LABELS: labels,
      });
      assert.equal(r.status, 78, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.match(
        r.stderr,
        /configuration error: APP_LABELS: .* cannot be copied: the target label "(instance|job)" is set by the broker/,
      );
    }
  });

  describe('broker on the embedded fs store (the README command)', () => {
    let child: ChildProcess;
    let dir: string;
    let base: string;
    const out: string[] = [];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'cli-broker-'));
      child = spawn(process.execPath, [CLI, 'broker'], {
        env: {
          PATH: process.env.PATH ?? '',
          BROKER_USERNAME: 'admin',
          BROKER_PASSWORD: 'cli-test-pw-8Hs3',
          PORT: '0',
          STORE_DIR: join(dir, 'data'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d) => out.push(String(d)));
      child.stderr!.on('data', (d) => out.push(String(d)));
      const port = await new Promise<number>((resolvePort, reject) => {
        const timer = setTimeout(() => reject(new Error(`broker did not start: ${out.join('')}`)), 10_000);
        child.stdout!.on('data', () => {
          const m = /"port":(\d+)/.exec(out.join(''));
          if (m) {
            clearTimeout(timer);
            resolvePort(Number(m[1]));
          }
        });
      });
      base = `http://127.0.0.1:${port}`;
    });

    after(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    });

    it('logs JSON lines, warns that binds need CF_API_URL, and answers health and catalog', async () => {
      const lines = out
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.ok(lines.some((l) => l.level === 'warn' && /CF_API_URL is not set/.test(l.msg)));
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const auth = 'Basic ' + Buffer.from('admin:cli-test-pw-8Hs3').toString('base64');
      const catalog = await fetch(`${base}/v2/catalog`, {
        headers: { Authorization: auth, 'X-Broker-API-Version': '2.15' },
      });
      assert.equal(catalog.status, 200);
      assert.equal(((await catalog.json()) as { services: unknown[] }).services.length, 1);
    });

    it('provisions into ./data-style directory and refuses binds with a clear 503', async () => {
      const auth = 'Basic ' + Buffer.from('admin:cli-test-pw-8Hs3').toString('base64');
      const headers = { Authorization: auth, 'X-Broker-API-Version': '2.15', 'Content-Type': 'application/json' };
      const catalog = (await (await fetch(`${base}/v2/catalog`, { headers })).json()) as {
        services: Array<{ id: string; plans: Array<{ id: string }> }>;
      };
      const ids = { service_id: catalog.services[0].id, plan_id: catalog.services[0].plans[0].id };
      const prov = await fetch(`${base}/v2/service_instances/inst-1`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ ...ids, organization_guid: 'o', space_guid: 's' }),
      });
      assert.equal(prov.status, 201);
      assert.deepEqual(await readdir(join(dir, 'data', 'instances')), ['inst-1.json']);
      const bind = await fetch(`${base}/v2/service_instances/inst-1/service_bindings/b-1`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({ ...ids, bind_resource: { app_guid: 'a-1' } }),
      });
      assert.equal(bind.status, 503);
      assert.match(((await bind.json()) as { description: string }).description, /CF_API_URL/);
    });
  });
});
