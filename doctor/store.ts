import type { StoreConfig } from '../shared/store';
import type { ListedObject } from '../shared/store/store';
import type { TargetStatus } from '../shared/targets/types';
import { age, CheckResult, result, shownUrl } from './report';
import type { StoreView } from './store-view';

/** The store checks: reachable and listable, writable and readable back, the change marker, records vs files. */

export const describeStore = (c: StoreConfig) =>
  c.store === 's3'
    ? `s3://${c.s3Bucket}/${c.s3Prefix ?? ''}${c.s3Endpoint ? ` at ${shownUrl(c.s3Endpoint)}` : ''}`
    : `fs:${c.storeDir}`;

const storeAdvice = (c: StoreConfig) =>
  c.store === 's3'
    ? "check S3_BUCKET, S3_PREFIX, S3_ENDPOINT, AWS_REGION and the credentials of this host (the same as the broker's)"
    : 'check STORE_DIR: it must be the directory the broker and updater use, readable by this user';

export function storeReadableVerdict(config: StoreConfig, view?: StoreView, error?: Error): CheckResult {
  const where = describeStore(config);
  if (!view)
    return result(
      'store readable',
      'fail',
      `${where} could not be listed: ${error?.message ?? 'unknown error'}`,
      storeAdvice(config),
    );
  const corrupt = view.corrupt.length;
  return result(
    'store readable',
    corrupt ? 'warn' : 'ok',
    `${where}: ${view.bindings.size} binding records, ${view.instances.size} instance records, ${view.active.size} target files` +
      (corrupt ? `; ${corrupt} records are not valid and are left alone by the updater` : ''),
    corrupt ? 'see the runbook, CfAppDiscoveryRefusedObjects: restore or remove each record named below' : undefined,
    view.corrupt,
  );
}

/** How the temporary key's round trip went: the stage that failed, if one did. */
export type ProbeOutcome = { ok: true } | { ok: false; stage: 'write' | 'read back' | 'remove'; error: Error };

export function storeWritableVerdict(config: StoreConfig, key: string, probe: ProbeOutcome): CheckResult {
  const where = describeStore(config);
  if (probe.ok) return result('store writable', 'ok', `${where}: wrote, read back and removed ${key}`);
  const advice =
    probe.stage === 'write'
      ? config.store === 's3'
        ? "the broker and updater need s3:PutObject and s3:DeleteObject on the bucket (prefix); check the bucket policy and this host's role"
        : 'the broker and updater need to write in STORE_DIR: check its owner, mode and mount (read-only file system?)'
      : probe.stage === 'read back'
        ? 'a write did not read back the same: the store (or a proxy or cache before it) does not keep what it is given'
        : `remove ${key} by hand; the broker and updater need delete rights too`;
  return result('store writable', 'fail', `${where}: could not ${probe.stage} ${key}: ${probe.error.message}`, advice);
}

/** A file written this much after the marker was not announced: the writer bumps it right after writing. */
export const MARKER_TOLERANCE_MS = 60_000;

export function markerVerdict(view: StoreView, fullListSeconds: number, now: number): CheckResult {
  const newest = [...view.active.values()].reduce<ListedObject | undefined>(
    (a, o) => (!a || o.lastModified > a.lastModified ? o : a),
    undefined,
  );
  const fallback = `sidecars see changes only at their full listing, every SIDECAR_FULL_LIST_SECONDS (${fullListSeconds} s)`;
  if (!view.marker) {
    if (!newest) return result('change marker', 'ok', 'no marker and no target files yet (the first bind writes both)');
    return result(
      'change marker',
      'warn',
      `markers/active.json is missing while ${view.active.size} target files exist: ${fallback}`,
      'a writer could not write the marker: check the broker and updater logs for "could not bump the active/ change marker"; the next bind, unbind or changing reconcile writes it',
    );
  }
  const at = view.marker.listed.lastModified.getTime();
  const found = `markers/active.json last written ${age(now - at)}${view.marker.writer ? ` by the ${view.marker.writer}` : ''}`;
  if (newest && newest.lastModified.getTime() - at > MARKER_TOLERANCE_MS)
    return result(
      'change marker',
      'warn',
      `${found}, before the newest target file ${newest.key} (written ${age(now - newest.lastModified.getTime())}): ${fallback}`,
      'a writer changed active/ without bumping the marker: check its logs for "could not bump the active/ change marker"; the next bind or reconcile that changes a file repairs it',
    );
  return result('change marker', 'ok', `${found}, after every target file`);
}

/** Why a binding legitimately has no target file: the reason the bind saw, or the app's state now. */
export function legitimateNoFile(status: TargetStatus | undefined, appState: string | undefined): string | undefined {
  if (appState === 'STOPPED') return 'app stopped';
  if (status?.state === 'inactive' && appState === undefined) return `${status.reason} at bind`;
  if (status?.state === 'inactive' && status.reason !== 'app-stopped') return `${status.reason} at bind`;
  return undefined;
}

export interface AppFacts {
  /** Visible apps' states by guid; undefined when the CC could not be asked. */
  states?: Map<string, string>;
}

/**
 * Records and files, both ways. A file without a record is a bind in progress (milliseconds) or a
 * leftover the updater removes after two minutes; one older than `leftoverFailMs` means the
 * updater is not removing it. A record without a file is fine for a stopped app, or one without
 * instances or public route; otherwise the updater has not (yet) written it.
 */
export function consistencyVerdict(view: StoreView, facts: AppFacts, now: number, leftoverFailMs: number): CheckResult {
  const details: string[] = [];
  let failing = false;
  let unexplained = 0;
  for (const [id, file] of view.active) {
    if (view.bindings.has(id) || view.corrupt.includes(`bindings/${id}.json`)) continue;
    const old = now - file.lastModified.getTime();
    if (old > leftoverFailMs) failing = true;
    details.push(`${file.key}: no record bindings/${id}.json (written ${age(old)}; Prometheus still scrapes it)`);
  }
  const orphanFiles = details.length;
  let fileless = 0;
  for (const [id, record] of view.bindings) {
    if (view.active.has(id)) continue;
    fileless++;
    const why = legitimateNoFile(record.status_at_bind, facts.states?.get(record.app_guid));
    if (why) details.push(`bindings/${id}.json: no target file, because ${why} (app ${record.app_guid})`);
    else {
      unexplained++;
      details.push(`bindings/${id}.json: no target file and no reason known (app ${record.app_guid})`);
    }
  }
  const found = `${view.bindings.size} binding records, ${view.active.size} target files; ${orphanFiles} files without records, ${fileless} records without files (${fileless - unexplained} explained)`;
  if (orphanFiles === 0 && unexplained === 0) return result('records and files', 'ok', found, undefined, details);
  const advice = [
    orphanFiles
      ? failing
        ? "files without records older than the updater's grace are not being removed: check the updater (runbook, CfAppDiscoveryReconcileNotSucceeding), or delete them if their bindings are really gone"
        : 'a file without a record is a bind in progress or a leftover the updater removes at its next run'
      : undefined,
    unexplained
      ? 'records without a reason for their missing file: run a reconcile (POST /update-targets) and check its summary'
      : undefined,
  ]
    .filter(Boolean)
    .join('; ');
  return result('records and files', failing ? 'fail' : 'warn', found, advice, details);
}
