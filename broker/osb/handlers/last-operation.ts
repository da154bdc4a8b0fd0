import type { RequestHandler } from 'express';
import type { BrokerService } from '../service';
import { contextOf } from './request-fields';

/**
 * Every operation of this broker completes synchronously, so a platform never needs to poll.
 * Some do anyway; they get the only truthful answer: succeeded, or 404 for what does not
 * exist (OSB keeps 410 for asynchronous deletes, which this broker never starts).
 */
export const instanceLastOperation =
  (service: BrokerService): RequestHandler =>
  async (req, res) => {
    await service.getInstance(req.params.instance_id as string, contextOf(req));
    res.status(200).json({ state: 'succeeded' });
  };

export const bindingLastOperation =
  (service: BrokerService): RequestHandler =>
  async (req, res) => {
    await service.getBinding(req.params.instance_id as string, req.params.binding_id as string, contextOf(req));
    res.status(200).json({ state: 'succeeded' });
  };
