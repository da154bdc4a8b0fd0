import { FsStore } from './fs-store';
import { S3Store } from './s3-store';
import { Store } from './store';

export * from './store';
export * from './keys';
export { FsStore } from './fs-store';
export { S3Store, S3StoreOptions, DEFAULT_S3_TIMEOUT_MS } from './s3-store';

/** The store part of the process configuration. */
export interface StoreConfig {
  store: 'fs' | 's3';
  storeDir: string;
  s3Bucket?: string;
  s3Prefix?: string;
  awsRegion?: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
}

export function createStore(cfg: StoreConfig): Store {
  switch (cfg.store) {
    case 'fs':
      return new FsStore(cfg.storeDir);
    case 's3':
      if (!cfg.s3Bucket) throw new Error('store is "s3" but no S3 bucket is configured (set the S3 bucket option)');
      return new S3Store({
        bucket: cfg.s3Bucket,
        prefix: cfg.s3Prefix,
        region: cfg.awsRegion,
        endpoint: cfg.s3Endpoint,
        forcePathStyle: cfg.s3ForcePathStyle,
      });
    default: {
      // Config arrives from env/JSON at runtime; refuse a typo instead of silently picking one.
      const unknown: string = (cfg as { store: unknown }).store as string;
      throw new Error(`unknown store ${JSON.stringify(unknown)}: expected "fs" or "s3"`);
    }
  }
}
