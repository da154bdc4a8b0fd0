import { randomBytes } from 'node:crypto';
import { lstat, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as fd from '../shared/files/fd';
import { isValidId } from '../shared/ids';
import { directoryProblem } from '../shared/startup';
import { md5Etag } from '../shared/store/store';
import type { ListedObject } from '../shared/store/store';
import { CheckResult, result } from './report';

/**
 * The sidecar's directory on a Prometheus host: can the sidecar write there, and do its files
 * match the store's `active/`. The probe file starts with a dot and does not end in `.json`,
 * so neither the sidecar nor Prometheus' `*.json` glob ever takes it for a target file.
 */
export async function probeDirectory(dir: string): Promise<Error | undefined> {
  const probe = join(dir, `.cf-app-discovery-doctor-${randomBytes(6).toString('hex')}.probe`);
  try {
    await writeFile(probe, 'doctor\n', { flag: 'wx' });
  } catch (err) {
    return new Error(directoryProblem(err));
  }
  await unlink(probe).catch(() => undefined);
  return undefined;
}

/** ETags of the target files (`<id>.json`, regular files only, never following a link) by binding id. */
export async function sidecarFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(dir)) {
    const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : undefined;
    if (!id || !isValidId(id)) continue;
    try {
      if (!(await lstat(join(dir, name))).isFile()) continue;
      const handle = await fd.open(join(dir, name), fd.READ_SAFELY);
      try {
        out.set(id, md5Etag(await fd.readAll(handle, (await fd.fstat(handle)).size)));
      } finally {
        await fd.close(handle);
      }
    } catch {
      // vanished while listed: the sidecar replaced or removed it
    }
  }
  return out;
}

export function sidecarDirVerdict(dir: string, problem: Error | undefined): CheckResult {
  if (!problem) return result('sidecar directory writable', 'ok', `${dir}: a file can be created and removed`);
  return result(
    'sidecar directory writable',
    'fail',
    `${dir} cannot be written: ${problem.message}`,
    "give the sidecar's user a directory it owns (as in the packaged unit: /var/lib/cf-app-discovery/targets) and point --dir and file_sd_configs at it",
  );
}

/** Files of the directory against `active/` of the store, by name and content (ETag). */
export function sidecarInStepVerdict(
  dir: string,
  local: Map<string, string>,
  active: Map<string, ListedObject>,
  syncIntervalSeconds: number,
): CheckResult {
  const details: string[] = [];
  for (const [id, o] of active) {
    const etag = local.get(id);
    if (etag === undefined) details.push(`${id}.json: in the store, not in the directory`);
    else if (etag !== o.etag) details.push(`${id}.json: differs from the store's`);
  }
  for (const id of local.keys()) if (!active.has(id)) details.push(`${id}.json: in the directory, not in the store`);
  const found = `${local.size} files in ${dir}, ${active.size} in the store's active/`;
  if (details.length === 0) return result('sidecar in step', 'ok', `${found}, all the same`);
  return result(
    'sidecar in step',
    'warn',
    `${found}; ${details.length} differ`,
    `a sync takes up to SYNC_INTERVAL_SECONDS (${syncIntervalSeconds} s): run doctor again; if they still differ, see the runbook, CfAppDiscoverySidecarStale (the sidecar's logs, its S3_BUCKET/S3_PREFIX or STORE_DIR)`,
    details,
  );
}
