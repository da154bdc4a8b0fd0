/** Typed subsets of Cloud Controller v3 resources: only the fields this project reads. */

export interface CcApp {
  guid: string;
  name: string;
  state: 'STARTED' | 'STOPPED';
  created_at: string;
  updated_at: string;
  relationships: { space: { data: { guid: string } } };
  /** Only the keys the client was told to keep (projections.ts); absent when none is set. */
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface CcSpace {
  guid: string;
  name: string;
  relationships: { organization: { data: { guid: string } } };
}

export interface CcOrganization {
  guid: string;
  name: string;
}

export interface CcProcess {
  guid: string;
  type: string;
  instances: number;
  created_at: string;
  updated_at: string;
  relationships: { app: { data: { guid: string } } };
}

export interface CcDestination {
  guid: string;
  app: { guid: string; process?: { type: string } };
  port?: number | null;
  protocol?: string | null;
}

export interface CcRoute {
  guid: string;
  protocol: 'http' | 'tcp' | string;
  host: string;
  path: string;
  port: number | null;
  url: string;
  destinations: CcDestination[];
  relationships: { domain: { data: { guid: string } }; space: { data: { guid: string } } };
}

export interface CcDomain {
  guid: string;
  name: string;
  internal: boolean;
  supported_protocols?: string[];
}

export interface CcPagination {
  total_results: number;
  total_pages: number;
  first: { href: string } | null;
  last: { href: string } | null;
  next: { href: string } | null;
  previous: { href: string } | null;
}

export interface CcListPage<T> {
  pagination: CcPagination;
  resources: T[];
  included?: Record<string, unknown[]>;
}

export interface CcErrorBody {
  errors: Array<{ code: number; title: string; detail: string }>;
}
