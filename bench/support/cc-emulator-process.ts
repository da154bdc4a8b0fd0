/**
 * Runs the CC emulator in a process of its own, as a real Cloud Controller would be, so a
 * benchmark measures the broker and not the emulator sharing its event loop.
 * Seeds BENCH_APPS started apps (3 instances, one route each) in one org/space, adds the
 * user bench/bench-pw with a role there, prints one JSON line {url, apps: [guids]} and runs
 * until its stdin closes. BENCH_LATENCY_MS is added to every answer after seeding.
 */
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
  process.stdout.write(JSON.stringify({ url, orgGuid: org.guid, spaceGuid: space.guid, apps }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => void cc.stop().then(() => process.exit(0)));
}

void main();
