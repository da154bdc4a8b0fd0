import { parseArgs, ParseArgsConfig } from 'node:util';

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** Shown in help and errors for a flag that takes a value, e.g. DIR. */
  value?: string;
  short?: string;
  /** The command cannot run without it (an empty value counts as missing). */
  required?: boolean;
  description: string;
}

export type FlagValues = Record<string, string | boolean | undefined>;

/** Every command takes these. */
export const HELP_FLAG: Record<string, FlagSpec> = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

/**
 * A command's flags, strictly: an unknown flag, a positional argument, a flag without its
 * value or a switch given one is a problem that names the argument, never something ignored.
 */
export function parseFlags(
  args: string[],
  flags: Record<string, FlagSpec>,
): { values: FlagValues } | { problem: string } {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [name, f.short ? { type: f.type, short: f.short } : { type: f.type }]),
  );
  let values: FlagValues;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    return { problem: explain(args, flags, options) ?? (err as Error).message };
  }
  // --help answers even when a required flag is missing.
  const missing = values.help ? undefined : Object.entries(flags).find(([name, f]) => f.required && !values[name]);
  if (missing) return { problem: `needs --${missing[0]} ${missing[1].value ?? 'VALUE'} (${missing[1].description})` };
  return { values };
}

/** Node's messages differ between versions; this says the same thing in one stable line. */
function explain(
  args: string[],
  flags: Record<string, FlagSpec>,
  options: ParseArgsConfig['options'],
): string | undefined {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'positional') return `unexpected argument ${JSON.stringify(token.value)}`;
    if (token.kind !== 'option') continue;
    const flag = flags[token.name];
    if (!flag) return `unknown option ${token.rawName}`;
    if (flag.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))))
      return `${token.rawName} needs a value (${token.rawName} ${flag.value ?? 'VALUE'})`;
    if (flag.type === 'boolean' && token.value !== undefined) return `${token.rawName} takes no value`;
  }
  return undefined;
}
