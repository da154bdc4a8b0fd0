/**
 * A Cloud Controller v3 + UAA emulator: the platform `cf-app-discovery demo` drives, and the CC
 * the tests and benchmarks talk to. The demo is a product command, so this module ships in
 * dist/ and, like every product folder, imports nothing from spec/ or bench/.
 */
export { CcEmulator } from './server';
export type { Fault, LoggedRequest } from './server';
export type { App, Domain, Org, Process, Route, Space } from './state';
export type { AuditEvent, AuditEventInput, AuditParty } from './audit-log';
