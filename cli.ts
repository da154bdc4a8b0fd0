#!/usr/bin/env node
/** The `cf-app-discovery` command; cli/ builds each process from the settings. */
import { main } from './cli/main';

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`cf-app-discovery: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
