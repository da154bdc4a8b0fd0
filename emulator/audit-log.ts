import { randomUUID } from 'node:crypto';

/** Who or what an audit event names: its actor (who changed something) and its target (what changed). */
export interface AuditParty {
  guid: string;
  type: string;
  name: string;
}

/** One CC audit event as stored; `seq` orders events of the same second as the CC's row id does. */
export interface AuditEvent {
  guid: string;
  created_at: string;
  type: string;
  actor: AuditParty;
  target: AuditParty;
  data: Record<string, unknown>;
  spaceGuid: string | null;
  orgGuid: string | null;
  seq: number;
}

/** What a test (or a PlatformState change) records; `at` (ms) overrides the event clock. */
export interface AuditEventInput {
  type: string;
  target: AuditParty;
  spaceGuid?: string | null;
  /** Only for events without a space (org-level ones); otherwise the space's org is used. */
  orgGuid?: string | null;
  data?: Record<string, unknown>;
  actor?: AuditParty;
  at?: number;
}

/** The user the emulator's platform changes are made as (tests change state directly, not over HTTP). */
export const DEFAULT_ACTOR: AuditParty = {
  guid: '7e3d8a1c-5b2f-4e60-9a47-0c1d2e3f4a5b',
  type: 'user',
  name: 'admin',
};

/** The CC's timestamp format: UTC with one-second resolution, e.g. 2026-11-30T10:00:01Z. */
export function toCcSecond(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The audit events the platform recorded, oldest first. The CC keeps events for a long time
 * (31 days by default), so nothing here is ever pruned.
 */
export class AuditLog {
  readonly events: AuditEvent[] = [];
  private seq = 0;
  /** Principals for which GET /v3/audit_events answers 403 (a token or role without access). */
  readonly denied = new Set<string>();
  /** False makes /v3/audit_events answer 404, as a CC too old to have the endpoint does. */
  available = true;

  constructor(
    private readonly clock: () => number,
    private readonly orgOfSpace: (spaceGuid: string) => string | undefined,
  ) {}

  record(e: AuditEventInput): AuditEvent {
    const spaceGuid = e.spaceGuid ?? null;
    const event: AuditEvent = {
      guid: randomUUID(),
      created_at: toCcSecond(e.at ?? this.clock()),
      type: e.type,
      actor: e.actor ?? DEFAULT_ACTOR,
      target: e.target,
      data: e.data ?? {},
      spaceGuid,
      orgGuid: spaceGuid ? (this.orgOfSpace(spaceGuid) ?? e.orgGuid ?? null) : (e.orgGuid ?? null),
      seq: ++this.seq,
    };
    this.events.push(event);
    return event;
  }
}

/** The v3 JSON shape of an audit event (updated_at equals created_at: events never change). */
export function presentAuditEvent(base: string, e: AuditEvent) {
  return {
    guid: e.guid,
    created_at: e.created_at,
    updated_at: e.created_at,
    type: e.type,
    actor: { ...e.actor },
    target: { ...e.target },
    data: e.data,
    space: e.spaceGuid ? { guid: e.spaceGuid } : null,
    organization: e.orgGuid ? { guid: e.orgGuid } : null,
    links: { self: { href: `${base}/v3/audit_events/${e.guid}` } },
  };
}

/** The data of the CC's audit.app.map-route / unmap-route events (its route mapping is the destination). */
export function routeMappingData(routeGuid: string, destination: { guid: string; processType: string }) {
  return {
    route_guid: routeGuid,
    app_port: 8080,
    destination_guid: destination.guid,
    route_mapping_guid: destination.guid,
    process_type: destination.processType,
    weight: null,
  };
}
