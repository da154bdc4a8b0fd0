import type { RequestHandler } from 'express';
import type { BrokerService } from '../service';
import { contextOf } from './request-fields';

export const getInstance =
  (service: BrokerService): RequestHandler =>
  async (req, res) => {
    res.status(200).json(await service.getInstance(req.params.instance_id as string, contextOf(req)));
  };
