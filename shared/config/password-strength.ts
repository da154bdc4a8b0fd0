/**
 * Passwords that guard the broker (BROKER_*, TARGETS_*, METRICS_*) are checked at start: at
 * least 12 characters, not only whitespace, not one character repeated, and not a well-known
 * default. The check is about the obvious mistakes (the README's example, a placeholder, the
 * user name), not entropy estimation.
 */
export const MIN_PASSWORD_LENGTH = 12;

/** Compared after lower-casing and dropping everything but letters and digits. */
const WELL_KNOWN = [
  'changeme',
  'password',
  'passw0rd',
  'admin',
  'administrator',
  'secret',
  'broker',
  'prometheus',
  'metrics',
  'targets',
  'letmein',
  'default',
  'qwerty',
  'welcome',
  'example',
  'cfappdiscovery',
  'servicebroker',
  'test',
];

const normalise = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Why `password` is too weak, in words that never include it; undefined when it will do. */
export function passwordProblem(password: string, username?: string): string | undefined {
  if (password.trim() === '') return 'it is only whitespace';
  if ([...password].length < MIN_PASSWORD_LENGTH) return `it is shorter than ${MIN_PASSWORD_LENGTH} characters`;
  if (new Set(password).size < 4) return 'it repeats fewer than 4 different characters';
  const plain = normalise(password);
  const letters = (s: string) => normalise(s).replace(/[0-9]/g, '');
  if (username !== undefined && letters(username) !== '' && letters(username) === letters(password))
    return 'it is the user name, give or take digits';
  // What is left once the well-known words go: nothing, or only digits, means a default with a number.
  let rest = plain;
  for (const word of WELL_KNOWN) rest = rest.split(word).join('');
  if (/^[0-9]*$/.test(rest)) return 'it is a well-known default, or only common words and digits';
  return undefined;
}
