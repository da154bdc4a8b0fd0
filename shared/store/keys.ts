import { isValidId } from '../ids';

/** The store layout (ARCHITECTURE.md describes who writes what). Every builder refuses an id that is not safe as a key. */
export const INSTANCES_PREFIX = 'instances/';
export const BINDINGS_PREFIX = 'bindings/';
export const ACTIVE_PREFIX = 'active/';

function keyFor(prefix: string, id: string): string {
  if (!isValidId(id)) throw new Error(`refusing unsafe id ${JSON.stringify(id).slice(0, 80)} as a store key`);
  return `${prefix}${id}.json`;
}

export const instanceKey = (instanceId: string) => keyFor(INSTANCES_PREFIX, instanceId);
export const bindingKey = (bindingId: string) => keyFor(BINDINGS_PREFIX, bindingId);
export const activeKey = (bindingId: string) => keyFor(ACTIVE_PREFIX, bindingId);

/** The id in `<prefix><id>.json`, or undefined when the key is not of that shape or the id is unsafe. */
export function idFromKey(prefix: string, key: string): string | undefined {
  if (!key.startsWith(prefix) || !key.endsWith('.json')) return undefined;
  const id = key.slice(prefix.length, -'.json'.length);
  return isValidId(id) ? id : undefined;
}
