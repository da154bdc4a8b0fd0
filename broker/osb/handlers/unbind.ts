import type { RequestHandler } from 'express';
import type { BrokerService } from '../service';
import { contextOf, requiredQuery } from './request-fields';

export const unbind =
  (service: BrokerService): RequestHandler =>
  async (req, res) => {
    await service.unbind(
      req.params.instance_id as string,
      req.params.binding_id as string,
      {
        serviceId: requiredQuery(req, 'service_id'),
        planId: requiredQuery(req, 'plan_id'),
      },
      contextOf(req),
    );
    res.status(200).json({});
  };
