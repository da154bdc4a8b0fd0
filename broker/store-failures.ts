import { CorruptRecordError } from '../shared/records/records';
import { StoreError } from '../shared/store/store';
import { InvalidTargetFileError } from '../shared/targets/schema';
import { BrokerFailure } from './osb/errors';

/**
 * A store that is down answers 503 with a description people can act on; the platform
 * retries or orphan-mitigates. A corrupt record is an operator problem: 500, named key.
 */
export async function withStoreFailures<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof StoreError) {
      throw new BrokerFailure(
        'Unavailable',
        `The broker's store is not reachable (${err.message}). The request did not complete; try again in a minute (Cloud Foundry cleans up what a failed bind left).`,
        'ServiceUnavailable',
      );
    }
    if (err instanceof CorruptRecordError) {
      throw new BrokerFailure(
        'Internal',
        `The broker's store holds a damaged record (${err.message}); the platform operator must repair or remove it.`,
        'InternalError',
      );
    }
    if (err instanceof InvalidTargetFileError && err.tooLarge) {
      throw new BrokerFailure(
        'BadRequest',
        `The app's target file would be ${err.problem}, the most Prometheus hosts accept: every instance of the app repeats every label. Bind with fewer or shorter labels (instance and binding parameters), or scale the app down. Nothing was bound.`,
        'TargetsTooLarge',
      );
    }
    if (err instanceof InvalidTargetFileError) {
      throw new BrokerFailure(
        'Internal',
        `The broker refused to write the target file of binding ${err.bindingId}: ${err.problem}. Nothing was bound; the platform operator can find the details in its logs.`,
        'InternalError',
      );
    }
    throw err;
  }
}
