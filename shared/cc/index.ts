export * from './client';
export * from './errors';
export * from './relations';
export * from './types';
export { TokenProvider } from './uaa';
export type { CfAuth } from './uaa';
