/**
 * Runs the CC emulator in a process of its own, as a real Cloud Controller would be, so a
 * benchmark measures our code and not the emulator sharing its event loop.
 * Seeds BENCH_APPS started apps (3 instances, one route each) in one org/space, adds the user
 * bench/bench-pw with a role there, prints one JSON line {url, orgGuid, spaceGuid, apps} and
 * runs until its stdin closes. BENCH_LATENCY_MS is added to every answer after seeding.
 * Commands on stdin, one JSON object a line, each answered with one JSON line:
 *   {"op":"scale","first":N,"instances":I}  scale the first N apps
 *   {"op":"count"}                          CC requests (/v3) served so far
 */
import { createInterface } from 'node:readline';
import { CcEmulator } from '../../spec/support/cc-emulator';

async function main() {
  const count = Number(process.env.BENCH_APPS ?? 1000);
  const cc = new CcEmulator();
  const url = await cc.start();
  cc.addUser('bench', 'bench-pw');
  const org = cc.addOrg('bench-org');
  const space = cc.addSpace(org.guid, 'bench-space');
  cc.grantSpaceRole('bench', space.guid);
  const domain = cc.addDomain('apps.example.com');
  const apps: string[] = [];
  for (let i = 0; i < count; i++) {
    const app = cc.addApp({ name: `app-${i}`, spaceGuid: space.guid, instances: 3 });
    cc.mapRoute(cc.addRoute({ host: `app-${i}`, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
    apps.push(app.guid);
  }
  cc.setLatency(Number(process.env.BENCH_LATENCY_MS ?? 20));
  cc.resetRequests();
  process.stdout.write(JSON.stringify({ url, orgGuid: org.guid, spaceGuid: space.guid, apps }) + '\n');
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const cmd = JSON.parse(line) as { op: string; first?: number; instances?: number };
    if (cmd.op === 'scale') for (const guid of apps.slice(0, cmd.first)) cc.scale(guid, cmd.instances ?? 4);
    process.stdout.write(JSON.stringify({ op: cmd.op, v3: cc.ccRequests().length }) + '\n');
  });
  lines.on('close', () => void cc.stop().then(() => process.exit(0)));
}

void main();
