export { CcEmulator } from './cc-emulator/server';
export type { Fault, LoggedRequest } from './cc-emulator/server';
export type { App, Domain, Org, Process, Route, Space } from './cc-emulator/state';
