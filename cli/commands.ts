import type { Config, Requirements } from '../shared/config/load';
import type { CommandName } from '../shared/config/settings';
import type { Logger } from '../shared/logger';
import type { FlagSpec, FlagValues } from './args';

/** A process that keeps running until stopped (SIGTERM, SIGINT). */
export interface Running {
  stop(): Promise<void>;
}

/** A command's outcome: an exit code now, or a process that keeps running. */
export type Outcome = number | Running;

interface CommandInfo {
  summary: string;
  flags: Record<string, FlagSpec>;
}

/** A part of the deployment, built from the settings. */
export interface ServiceCommand extends CommandInfo {
  /** What the settings must provide (broker credentials: one is generated on a loopback HOST). */
  needs: Omit<Requirements, 'generateBrokerPassword'>;
  start(flags: FlagValues, config: Config, logger: Logger): Promise<Outcome>;
}

/** A command that sets itself up (the demo). */
export interface StandaloneCommand extends CommandInfo {
  run(flags: FlagValues): Promise<number>;
}

export type Command = ServiceCommand | StandaloneCommand;

/** Commands are loaded when run, so `--help` or a config error never loads the server code. */
export const COMMANDS: Record<CommandName, Command> = {
  broker: {
    summary: 'run the Open Service Broker API server (needs BROKER_USERNAME, BROKER_PASSWORD)',
    flags: {},
    needs: { brokerCredentials: true },
    start: async (_flags, config, logger) => (await import('./broker')).startBroker(config, logger),
  },
  updater: {
    summary: 'reconcile target files with the Cloud Controller on UPDATE_SCHEDULE',
    flags: {
      once: { type: 'boolean', description: 'one run, a JSON summary on stdout (logs on stderr), exit 0 on success' },
    },
    needs: { cloudController: true },
    start: async (flags, config, logger) => {
      const { runUpdaterDaemon, runUpdaterOnce } = await import('./updater');
      return flags.once ? runUpdaterOnce(config, logger) : runUpdaterDaemon(config, logger);
    },
  },
  sidecar: {
    summary: "mirror the store's active/ targets into a directory for Prometheus file_sd",
    flags: {
      dir: {
        type: 'string',
        value: 'DIR',
        required: true,
        description: 'the directory Prometheus file_sd_configs read',
      },
      once: { type: 'boolean', description: 'one sync, a JSON line on stdout (logs on stderr), then exit (for cron)' },
      'metrics-port': { type: 'string', value: 'N', description: 'port of /metrics (instead of SIDECAR_METRICS_PORT)' },
    },
    needs: {},
    start: async (flags, config, logger) => (await import('./sidecar')).startSidecarCommand(flags, config, logger),
  },
  all: {
    summary: 'broker + updater schedule + sidecar in one process: the single-node deployment',
    flags: { dir: { type: 'string', value: 'DIR', description: "the sidecar's target directory (default ./targets)" } },
    needs: { brokerCredentials: true },
    start: async (flags, config, logger) =>
      (await import('./all')).runAllInOne(config, (flags.dir as string | undefined) ?? './targets', logger),
  },
  demo: {
    summary: 'a CC emulator + the all-in-one on a temporary store, driven as CF would',
    flags: {
      keep: { type: 'boolean', description: 'leave it running at the end (Ctrl-C stops it), for a Prometheus to read' },
    },
    run: async (flags) => (await import('./demo')).runDemoCommand(flags.keep === true),
  },
  doctor: {
    summary:
      'check a deployment end to end with the settings its processes use: one line per check, exit 1 on any fail',
    flags: {
      json: { type: 'boolean', description: 'one JSON document instead of lines' },
      dir: {
        type: 'string',
        value: 'DIR',
        description: "on a Prometheus host: the sidecar's directory (writable, in step with the store)",
      },
      'prometheus-url': {
        type: 'string',
        value: 'URL',
        description: 'the Prometheus server: has it the file_sd or http_sd job, how many targets are up',
      },
      'updater-metrics-url': {
        type: 'string',
        value: 'URL',
        description: "the updater's /metrics (METRICS_USERNAME/PASSWORD): when the last reconcile succeeded",
      },
    },
    run: async (flags) => (await import('./doctor')).runDoctorCommand(flags),
  },
};

export const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);
