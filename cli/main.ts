import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Config, ConfigError, loadConfig } from '../shared/config/load';
import { createLogger, Logger } from '../shared/logger';
import { StartupError } from '../shared/startup';
import { HELP_FLAG, parseFlags } from './args';
import { COMMANDS, isCommand, Running, ServiceCommand } from './commands';
import { commandHelp, mainHelp } from './help';

/** sysexits.h: a wrong command line, a configuration problem, a part that cannot start. */
const EXIT_USAGE = 2;
const EXIT_CONFIG = 78;
const EXIT_CANNOT_START = 69;

/** The CLI: resolves with the exit code, or -1 while a started process keeps running. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && args[0] !== undefined && isCommand(args[0])) {
      process.stdout.write(commandHelp(args[0]) + '\n');
      return 0;
    }
    process.stdout.write(mainHelp() + '\n');
    return name ? 0 : EXIT_USAGE;
  }
  if (!isCommand(name)) {
    process.stderr.write(`cf-app-discovery: unknown command ${JSON.stringify(name)}; run cf-app-discovery --help\n`);
    return EXIT_USAGE;
  }
  const command = COMMANDS[name];
  const parsed = parseFlags(args, { ...command.flags, ...HELP_FLAG });
  if ('problem' in parsed) {
    process.stderr.write(`cf-app-discovery ${name}: ${parsed.problem}; run cf-app-discovery ${name} --help\n`);
    return EXIT_USAGE;
  }
  const flags = parsed.values;
  if (flags.help) {
    process.stdout.write(commandHelp(name) + '\n');
    return 0;
  }
  if ('run' in command) return command.run(flags);

  const config = configFor(command);
  if (typeof config === 'number') return config;
  // With --once, stdout carries only the summary line; logs go to stderr.
  const logger = flags.once ? createLogger(config.logLevel, pino.destination(2)) : createLogger(config.logLevel);
  let outcome;
  try {
    outcome = await command.start(flags, config, logger);
  } catch (err) {
    if (!(err instanceof StartupError)) throw err;
    // Whatever had started was stopped by the part that failed; nothing is left to serve.
    process.stderr.write(`cf-app-discovery: cannot start ${name}: ${err.message}\n`);
    process.exit(EXIT_CANNOT_START);
  }
  if (typeof outcome === 'number') return outcome;
  stopOnSignals(outcome, logger);
  return -1;
}

/** The settings, or the exit code after one line naming the setting that is missing or wrong. */
function configFor(command: ServiceCommand): Config | number {
  let config;
  try {
    config = loadConfig(process.env, {
      ...command.needs,
      // 18 random bytes: 24 base64url characters, printed once below and never logged.
      generateBrokerPassword: command.needs.brokerCredentials ? () => randomBytes(18).toString('base64url') : undefined,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cf-app-discovery: configuration error: ${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  if (config.generatedBrokerPassword) {
    process.stderr.write(
      `cf-app-discovery: BROKER_PASSWORD is not set and HOST ${config.host} is loopback, so this run uses a generated one (shown only here):\n` +
        `  BROKER_USERNAME=${config.brokerUsername} BROKER_PASSWORD=${config.brokerPassword}\n`,
    );
  }
  return config;
}

function stopOnSignals(running: Running, logger: Logger): void {
  const onSignal = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    // CF kills 10 s after SIGTERM; the parts' own grace ends before that.
    setTimeout(() => {
      logger.error('shutdown did not finish in 9.5 s; exiting');
      process.exit(1);
    }, 9_500).unref();
    void running.stop().then(
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
}
