/** The platform's resources as the emulator keeps them (presenters.ts shapes them as the CC v3 does). */
export interface Org {
  guid: string;
  name: string;
  created_at: string;
}
export interface Space {
  guid: string;
  name: string;
  orgGuid: string;
  created_at: string;
}
export interface Domain {
  guid: string;
  name: string;
  internal: boolean;
  protocols: string[];
  created_at: string;
}
export interface App {
  guid: string;
  name: string;
  spaceGuid: string;
  state: 'STARTED' | 'STOPPED';
  created_at: string;
  updated_at: string;
  /** metadata.labels / metadata.annotations, changed with setAppMetadata. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface Process {
  guid: string;
  appGuid: string;
  type: string;
  instances: number;
  created_at: string;
  updated_at: string;
}
export interface Destination {
  guid: string;
  appGuid: string;
  processType: string;
}
export interface Route {
  guid: string;
  host: string;
  path: string;
  port: number | null;
  domainGuid: string;
  spaceGuid: string;
  destinations: Destination[];
  created_at: string;
}
export interface CredentialBinding {
  guid: string;
  name: string | null;
  type: 'app' | 'key';
  appGuid?: string;
  instanceGuid: string;
  created_at: string;
}
export interface Principal {
  secret: string;
  kind: 'user' | 'client';
  spaces: Set<string>;
  globalRead: boolean;
}
