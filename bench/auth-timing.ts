/**
 * Does the broker's credential check take the same time however close a guess is? Times the
 * checker (shared/basic-auth.ts) on guesses that share nothing, a prefix, all but the last
 * character, or everything with the secret, with one accepted pair and with two (rotation).
 * The time may depend on the guess's own length (it is hashed), never on its closeness.
 *
 *   npm run build:test && node dist-test/bench/auth-timing.js      (BENCH_ITERATIONS=200000 per sample)
 */
import { basicAuthChecker, Credential } from '../shared/basic-auth';

const CURRENT: Credential = { username: 'cf-broker', password: 'Xk4t9-QmZr2-Lp8sW-c7Vb1' };
const PREVIOUS: Credential = { username: 'cf-broker-old', password: 'Aa0Bb1Cc2Dd3Ee4Ff5Gg6Hh' };
const header = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

const same = CURRENT.password;
const GUESSES: Record<string, string> = {
  'nothing in common (same length)': header(CURRENT.username, 'z'.repeat(same.length)),
  'first half right': header(
    CURRENT.username,
    same.slice(0, same.length / 2) + 'z'.repeat(same.length - same.length / 2),
  ),
  'all but the last character right': header(CURRENT.username, same.slice(0, -1) + 'z'),
  'wrong user, right password': header('cf-brokeR', same),
  'the right pair (accepted)': header(CURRENT.username, same),
  'the previous pair': header(PREVIOUS.username, PREVIOUS.password),
};

function nsPerCheck(check: (h: string) => boolean, h: string, iterations: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) check(h);
  return Number(process.hrtime.bigint() - started) / iterations;
}

function main() {
  const iterations = Number(process.env.BENCH_ITERATIONS ?? 200_000);
  const samples = 7;
  const checkers = {
    'one pair accepted': basicAuthChecker(CURRENT),
    'two pairs (rotating)': basicAuthChecker([CURRENT, PREVIOUS]),
  };
  console.log(
    `node ${process.version}; ${iterations.toLocaleString('en')} checks per sample, median of ${samples} samples, interleaved\n`,
  );
  console.log(`| guess | ${Object.keys(checkers).join(' ns | ')} ns |`);
  console.log(
    `|---|${Object.keys(checkers)
      .map(() => '---')
      .join('|')}|`,
  );
  const results = new Map<string, number[][]>();
  // Interleave guesses within each sample, so drift of the machine hits them all alike.
  for (const name of Object.keys(GUESSES))
    results.set(
      name,
      Object.keys(checkers).map(() => []),
    );
  for (let s = 0; s < samples; s++) {
    Object.values(checkers).forEach((check, c) => {
      for (const [name, h] of Object.entries(GUESSES)) results.get(name)![c].push(nsPerCheck(check, h, iterations));
    });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [name, perChecker] of results) {
    console.log(`| ${name} | ${perChecker.map((xs) => median(xs).toFixed(0)).join(' | ')} |`);
  }
}

main();
