#!/usr/bin/env node
import { ConfigError, loadConfig } from './shared/config/load';
import { SETTINGS } from './shared/config/settings';
import { createLogger } from './shared/logger';

const COMMANDS: Record<string, string> = {
  broker: 'run the Open Service Broker API server (needs BROKER_USERNAME, BROKER_PASSWORD)',
};

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
  let config;
  try {
    config = loadConfig(process.env, { brokerCredentials: command === 'broker' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cf-app-discovery: configuration error: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const { startBroker } = await import('./broker/server');
  const server = await startBroker(config, logger);
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
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
