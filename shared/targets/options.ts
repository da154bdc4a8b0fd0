import type { TargetOptions } from './types';

export interface InstanceParameters {
  labels?: Record<string, string>;
}

export interface BindingParameters {
  path?: string;
  scheme?: 'http' | 'https';
  labels?: Record<string, string>;
}

/** Binding parameters win over instance parameters, label by label. */
export function targetOptions(instance: InstanceParameters | undefined, binding: BindingParameters | undefined): TargetOptions {
  const labels = { ...(instance?.labels ?? {}), ...(binding?.labels ?? {}) };
  return {
    path: binding?.path,
    scheme: binding?.scheme,
    labels: Object.keys(labels).length > 0 ? labels : undefined,
  };
}
