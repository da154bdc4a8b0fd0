import type { RequestHandler } from 'express';
import type { BrokerService } from '../service';
import { contextOf } from './request-fields';

export const getBinding =
  (service: BrokerService): RequestHandler =>
  async (req, res) => {
    res
      .status(200)
      .json(
        await service.getBinding(req.params.instance_id as string, req.params.binding_id as string, contextOf(req)),
      );
  };
