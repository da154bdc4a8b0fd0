import Ajv from 'ajv';
import { LABEL_NAME_PATTERN } from '../targets/labels';

/** Larger than any real target file (an app with thousands of instances is ~1 MB). */
export const MAX_TARGET_FILE_BYTES = 4 * 1024 * 1024;

/** The file_sd format Prometheus reads: an array of {targets: [string], labels: {name: string}}. */
const FILE_SD_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    required: ['targets'],
    additionalProperties: false,
    properties: {
      targets: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 1024 } },
      labels: {
        type: 'object',
        propertyNames: { pattern: LABEL_NAME_PATTERN },
        additionalProperties: { type: 'string' },
      },
    },
  },
};

const validate = new Ajv({ allErrors: false, strict: true }).compile(FILE_SD_SCHEMA);

/** Why Prometheus would reject (or misread) this body, or undefined when it is a valid file. */
export function targetFileProblem(body: string): string | undefined {
  if (Buffer.byteLength(body, 'utf8') > MAX_TARGET_FILE_BYTES) return `larger than ${MAX_TARGET_FILE_BYTES} bytes`;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'not valid JSON';
  }
  if (validate(value)) return undefined;
  const e = validate.errors?.[0];
  if (e?.keyword === 'pattern' && e.propertyName) return `label name ${JSON.stringify(e.propertyName)} is not a valid Prometheus label name`;
  return `not a file_sd target list: ${e?.instancePath || '/'} ${e?.message ?? 'is invalid'}`;
}
