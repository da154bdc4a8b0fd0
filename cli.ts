#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from './shared/config/load';
import { SETTINGS } from './shared/config/settings';
import pino from 'pino';
import { createLogger } from './shared/logger';
import { StartupError } from './shared/startup';

/** Exit code when a part cannot start (a port taken, a directory unusable): EX_UNAVAILABLE. */
const EXIT_CANNOT_START = 69;

const COMMANDS: Record<string, string> = {
  broker: 'run the Open Service Broker API server (needs BROKER_USERNAME, BROKER_PASSWORD)',
  updater: 'reconcile target files with the Cloud Controller on UPDATE_SCHEDULE; --once: one run, JSON summary, exit 0 on success',
  all: 'broker + updater schedule + sidecar in one process (--dir DIR, default ./targets): the single-node deployment',
  demo: 'a CC emulator + the all-in-one on a temporary store, driven as CF would; --keep leaves it running',
  sidecar: 'mirror the store\'s active/ targets into --dir DIR for Prometheus file_sd; --once: one sync (for cron); --metrics-port N',
};

/** The value of `--name VALUE` or `--name=VALUE`. */
function flag(argv: string[], name: string): string | undefined {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].slice(name.length + 1) : argv[i + 1];
}

function help(): string {
  const lines = [
    'Usage: cf-app-discovery <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, text]) => `  ${name.padEnd(10)} ${text}`),
    '',
    'Configuration comes from environment variables, or from the credentials of a',
    'user-provided service in VCAP_SERVICES (the environment wins):',
    ...Object.values(SETTINGS).map((s) => `  ${s.env.padEnd(20)} ${s.description}${'default' in s && s.default !== '' ? ` (default ${s.default})` : ''}`),
  ];
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(help() + '\n');
    return command ? 0 : 2;
  }
  if (!(command in COMMANDS)) {
    process.stderr.write(`cf-app-discovery: unknown command "${command}"; run cf-app-discovery --help\n`);
    return 2;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`cf-app-discovery ${command}: ${COMMANDS[command]}\n`);
    return 0;
  }
  if (command === 'demo') {
    const { runDemo } = await import('./demo/run');
    return runDemo(argv.includes('--keep'));
  }
  let config;
  const serves = command === 'broker' || command === 'all';
  try {
    config = loadConfig(process.env, {
      brokerCredentials: serves,
      cloudController: command === 'updater',
      // 18 random bytes: 24 base64url characters, printed once below and never logged.
      generateBrokerPassword: () => randomBytes(18).toString('base64url'),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cf-app-discovery: configuration error: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  if (config.generatedBrokerPassword) {
    process.stderr.write(`cf-app-discovery: BROKER_PASSWORD is not set and HOST ${config.host} is loopback, so this run uses a generated one (shown only here):\n`
      + `  BROKER_USERNAME=${config.brokerUsername} BROKER_PASSWORD=${config.brokerPassword}\n`);
  }
  try {
    return await startCommand(command, argv, config);
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    // Whatever had started was stopped by the part that failed; nothing is left to serve.
    process.stderr.write(`cf-app-discovery: cannot start ${command}: ${err.message}\n`);
    process.exit(EXIT_CANNOT_START);
  }
}

async function startCommand(command: string, argv: string[], config: ReturnType<typeof loadConfig>): Promise<number> {
  const once = argv.includes('--once');
  // With --once, stdout carries only the summary line; logs go to stderr.
  const logger = once ? createLogger(config.logLevel, pino.destination(2)) : createLogger(config.logLevel);
  let stop: () => Promise<void>;
  if (command === 'sidecar') {
    const dir = flag(argv, '--dir');
    if (!dir) {
      process.stderr.write('cf-app-discovery: sidecar needs --dir DIR (the directory Prometheus file_sd_configs read)\n');
      return 2;
    }
    const port = flag(argv, '--metrics-port');
    if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) {
      process.stderr.write('cf-app-discovery: --metrics-port must be a port number\n');
      return 2;
    }
    const { runSidecarDaemon, runSidecarOnce } = await import('./cli/sidecar');
    if (once) return runSidecarOnce(config, dir, logger);
    stop = (await runSidecarDaemon(config, dir, logger, { metricsPort: port === undefined ? undefined : Number(port) })).stop;
  } else if (command === 'all') {
    const { runAllInOne } = await import('./cli/all');
    stop = (await runAllInOne(config, flag(argv, '--dir') ?? './targets', logger)).stop;
  } else if (command === 'updater') {
    const { runUpdaterDaemon, runUpdaterOnce } = await import('./cli/updater');
    if (once) return runUpdaterOnce(config, logger);
    stop = (await runUpdaterDaemon(config, logger)).stop;
  } else {
    const { startBroker } = await import('./cli/broker');
    stop = (await startBroker(config, logger)).stop;
  }
  const onSignal = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    // CF kills 10 s after SIGTERM; the parts' own grace ends before that.
    setTimeout(() => {
      logger.error('shutdown did not finish in 9.5 s; exiting');
      process.exit(1);
    }, 9_500).unref();
    void stop().then(
      () => {
        logger.info({ signal }, 'stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`cf-app-discovery: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
