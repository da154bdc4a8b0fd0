export { CcEmulator } from './server';
export type { Fault, LoggedRequest } from './server';
export type { App, Domain, Org, Process, Route, Space } from './state';
