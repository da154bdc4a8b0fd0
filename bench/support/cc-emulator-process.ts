/**
 * Runs the CC emulator in a process of its own, as a real Cloud Controller would be, so a
 * benchmark measures our code and not the emulator sharing its event loop.
 *
 * Seeds BENCH_APPS started apps (3 instances, one route each on apps.example.com) plus
 * BENCH_EXTRA_APPS more that no benchmark binds, interleaved evenly and spread round-robin over
 * BENCH_ORGS orgs x BENCH_SPACES_PER_ORG spaces (default 1 x 1). The user bench/bench-pw gets a
 * role in every space. Prints one JSON line
 *   {url, orgGuid, spaceGuid, apps, visible, orgs, spaces, domains}
 * (orgGuid/spaceGuid: the first ones; apps: the BENCH_APPS guids, in creation order) and runs
 * until its stdin closes. BENCH_LATENCY_MS (default 20) is added to every answer after seeding.
 *
 * Commands on stdin, one JSON object a line, each answered with one JSON line that carries the
 * op and `v3`, the number of CC (/v3) requests served so far:
 *   {"op":"count"}                   also `uaa` (token requests) and `cpuMs` (this process' CPU) so far
 *   {"op":"reset"}                   forget the request log (v3 becomes 0)
 *   {"op":"mutate","fraction":0.05}  scale an evenly spread, deterministic share of the
 *                                    BENCH_APPS apps between 3 and 4 instances; answers `changed`
 */
import { createInterface } from 'node:readline';
import { CcEmulator } from '../../emulator';
import { addSingleResourceEndpoints } from './emulator-extras';

const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

/** The indices of `share` of `n` items, spread evenly: every 20th for 5%. Deterministic, so runs compare. */
export function spreadIndices(n: number, share: number): number[] {
  const k = Math.max(0, Math.min(n, Math.round(n * share)));
  return Array.from({ length: k }, (_, j) => Math.floor((j * n) / k));
}

async function main() {
  const bound = int('BENCH_APPS', 1000);
  const extra = int('BENCH_EXTRA_APPS', 0);
  const orgCount = Math.max(1, int('BENCH_ORGS', 1));
  const spacesPerOrg = Math.max(1, int('BENCH_SPACES_PER_ORG', 1));
  const cc = new CcEmulator();
  // The old algorithm's GETs of one space/org/domain and of an app's routes (bench/support/old-algorithm.ts).
  addSingleResourceEndpoints(cc);
  const url = await cc.start();
  cc.addUser('bench', 'bench-pw');
  const orgs = Array.from({ length: orgCount }, (_, o) => cc.addOrg(`bench-org-${o}`));
  const spaces = orgs.flatMap((org, o) =>
    Array.from({ length: spacesPerOrg }, (_, s) => cc.addSpace(org.guid, `bench-space-${o}-${s}`)),
  );
  for (const space of spaces) cc.grantSpaceRole('bench', space.guid);
  const domain = cc.addDomain('apps.example.com');

  const visible = bound + extra;
  const apps: string[] = [];
  const instances = new Map<string, number>();
  for (let i = 0; i < visible; i++) {
    // Bound candidates sit evenly among the others, so filtered listings hit every page and space.
    const isBound = Math.floor(((i + 1) * bound) / visible) > Math.floor((i * bound) / visible);
    const space = spaces[i % spaces.length];
    const name = isBound ? `app-${apps.length}` : `other-${i}`;
    const app = cc.addApp({ name, spaceGuid: space.guid, instances: 3 });
    cc.mapRoute(cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
    // Metadata as apps carry it (BENCH_APP_METADATA=0 leaves it out): the updater keeps only the
    // APP_LABELS keys and the prometheus.io annotations of every listed app.
    if (process.env.BENCH_APP_METADATA !== '0') {
      cc.setAppMetadata(app.guid, {
        labels: { team: `team-${i % 40}`, 'example.com/cost-center': `cc-${i % 7}`, release: `r${i % 13}` },
        annotations: { 'prometheus.io/path': '/metrics', 'example.com/owner-notes': 'n'.repeat(200) },
      });
    }
    if (isBound) {
      apps.push(app.guid);
      instances.set(app.guid, 3);
    }
  }
  cc.setLatency(int('BENCH_LATENCY_MS', 20));
  cc.resetRequests();
  process.stdout.write(
    JSON.stringify({
      url,
      orgGuid: orgs[0].guid,
      spaceGuid: spaces[0].guid,
      apps,
      visible,
      orgs: orgs.length,
      spaces: spaces.length,
      domains: 1,
    }) + '\n',
  );

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const cmd = JSON.parse(line) as { op: string; fraction?: number };
    const answer: Record<string, unknown> = { op: cmd.op };
    if (cmd.op === 'mutate') {
      const chosen = spreadIndices(apps.length, cmd.fraction ?? 0.05).map((i) => apps[i]);
      for (const guid of chosen) {
        const next = instances.get(guid) === 3 ? 4 : 3;
        cc.scale(guid, next);
        instances.set(guid, next);
      }
      answer.changed = chosen.length;
    } else if (cmd.op === 'reset') {
      cc.resetRequests();
    } else if (cmd.op === 'count') {
      answer.uaa = cc.requests.filter((r) => r.path === '/oauth/token').length;
      const cpu = process.cpuUsage();
      answer.cpuMs = Math.round((cpu.user + cpu.system) / 1000);
    } else {
      answer.error = `unknown op ${JSON.stringify(cmd.op)}`;
    }
    answer.v3 = cc.ccRequests().length;
    process.stdout.write(JSON.stringify(answer) + '\n');
  });
  lines.on('close', () => void cc.stop().then(() => process.exit(0)));
}

if (require.main === module) void main();
