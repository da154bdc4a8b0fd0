import { CommandName, SETTINGS, SettingSpec } from '../shared/config/settings';
import { FlagSpec, HELP_FLAG } from './args';
import { COMMANDS } from './commands';

const SETTINGS_SOURCE = [
  'Configuration comes from environment variables, or from the credentials of a',
  'user-provided service in VCAP_SERVICES (the environment wins):',
];

const settingLine = (s: SettingSpec) =>
  `  ${s.env.padEnd(26)} ${s.description}${s.default !== undefined && s.default !== '' ? ` (default ${s.default})` : ''}`;

const flagName = (name: string, f: FlagSpec) =>
  `${f.short ? `-${f.short}, ` : ''}--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`;

/** `cf-app-discovery --help`: every command, then every setting. */
export function mainHelp(): string {
  return [
    'Usage: cf-app-discovery <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`),
    '',
    'Run cf-app-discovery <command> --help for its options and the settings it reads.',
    '',
    ...SETTINGS_SOURCE,
    ...Object.values(SETTINGS).map(settingLine),
  ].join('\n');
}

/** `cf-app-discovery <command> --help`: its flags, then the settings it reads. */
export function commandHelp(name: CommandName): string {
  const command = COMMANDS[name];
  const flags = Object.entries({ ...command.flags, ...HELP_FLAG });
  const usage = Object.entries(command.flags)
    .map(([flag, f]) => (f.required ? flagName(flag, f) : `[${flagName(flag, f)}]`))
    .join(' ');
  const settings = (Object.values(SETTINGS) as SettingSpec[]).filter((s) => s.commands.includes(name));
  return [
    `Usage: cf-app-discovery ${name}${usage ? ` ${usage}` : ''}`,
    '',
    `${name}: ${command.summary}`,
    '',
    'Options:',
    ...flags.map(([flag, f]) => `  ${flagName(flag, f).padEnd(24)} ${f.description}`),
    '',
    ...SETTINGS_SOURCE,
    ...settings.map(settingLine),
  ].join('\n');
}
