/** The `code` of a Node system error (`ENOENT`, `ENOTDIR`, ...), or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
