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
 *   {"op":"change","kind":"scale","app":3,"instances":4}   one app change (app: index into
 *                                    BENCH_APPS; kinds in changeApp below); answers `at`
 *                                    (Date.now() when the change was made) and `host` (reroute)
 *   {"op":"requests","from":0}       the request log from entry `from`: `log` [{path, query, at}]
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
  // The platform's apps were created over time, not all in the last second: each app's audit
  // events get a second of their own, ending a minute ago (a follower starting up finds a
  // platform at rest, not hundreds of events in its look-back window).
  const seedFrom = Date.now() - visible * 1000 - 60_000;
  let seeding = 0;
  cc.eventClock = () => seedFrom + seeding * 1000;
  for (let i = 0; i < visible; i++) {
    seeding = i;
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
  cc.eventClock = () => Date.now();
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
    const cmd = JSON.parse(line) as { op: string; fraction?: number; from?: number };
    const answer: Record<string, unknown> = { op: cmd.op };
    if (cmd.op === 'mutate') {
      const chosen = spreadIndices(apps.length, cmd.fraction ?? 0.05).map((i) => apps[i]);
      for (const guid of chosen) {
        const next = instances.get(guid) === 3 ? 4 : 3;
        cc.scale(guid, next);
        instances.set(guid, next);
      }
      answer.changed = chosen.length;
    } else if (cmd.op === 'change') {
      const c = cmd as unknown as AppChange;
      Object.assign(answer, changeApp(cc, apps[c.app], c, domain.guid));
    } else if (cmd.op === 'requests') {
      answer.log = cc.requests.slice(cmd.from ?? 0).map((r) => ({ path: r.path, query: r.query, at: r.at }));
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

/** One change an app team makes (bench/freshness.ts), recorded in the audit log as the CC does. */
export interface AppChange {
  kind: 'scale' | 'stop' | 'start' | 'rename' | 'reroute' | 'delete';
  app: number;
  instances?: number;
  name?: string;
}

let rerouted = 0;

function changeApp(cc: CcEmulator, guid: string, c: AppChange, domainGuid: string): Record<string, unknown> {
  const app = cc.apps.get(guid);
  if (!app) return { error: `no app ${c.app}` };
  let host: string | undefined;
  if (c.kind === 'scale') cc.scale(guid, c.instances ?? 4);
  else if (c.kind === 'stop') cc.stopApp(guid);
  else if (c.kind === 'start') cc.startApp(guid);
  else if (c.kind === 'rename') cc.rename(guid, c.name ?? `${app.name}-renamed`);
  else if (c.kind === 'delete') cc.deleteApp(guid);
  else if (c.kind === 'reroute') {
    // `cf unmap-route` of the old route, then `cf map-route` of a new one: two events.
    host = `rerouted-${++rerouted}`;
    const route = cc.addRoute({ host, domainGuid, spaceGuid: app.spaceGuid });
    for (const old of [...cc.routes.values()].filter((r) => r.destinations.some((d) => d.appGuid === guid)))
      cc.unmapRoute(old.guid, guid);
    cc.mapRoute(route.guid, guid);
  } else return { error: `unknown change ${JSON.stringify(c.kind)}` };
  return { at: Date.now(), host };
}

if (require.main === module) void main();
