import type { RequestHandler } from 'express';
import { BrokerFailure } from '../errors';
import type { BrokerService } from '../service';
import { contextOf } from './request-fields';

/**
 * Every operation of this broker completes synchronously, so a platform never needs to poll.
 * Some do anyway; they get the only truthful answer: succeeded, or gone.
 */
const goneIfMissing = (err: unknown) => {
  if (err instanceof BrokerFailure && err.kind === 'NotFound') throw new BrokerFailure('Gone', '');
  throw err;
};

export const instanceLastOperation = (service: BrokerService): RequestHandler => async (req, res) => {
  await service.getInstance(req.params.instance_id as string, contextOf(req)).catch(goneIfMissing);
  res.status(200).json({ state: 'succeeded' });
};

export const bindingLastOperation = (service: BrokerService): RequestHandler => async (req, res) => {
  await service.getBinding(req.params.instance_id as string, req.params.binding_id as string, contextOf(req)).catch(goneIfMissing);
  res.status(200).json({ state: 'succeeded' });
};
