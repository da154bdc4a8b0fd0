import type { RequestHandler } from 'express';
import type { BrokerService } from '../service';
import {
  contextOf,
  objectBody,
  optionalObject,
  optionalString,
  parametersField,
  requiredString,
} from './request-fields';

export const update =
  (service: BrokerService): RequestHandler =>
  async (req, res) => {
    const body = objectBody(req);
    await service.update(
      req.params.instance_id as string,
      {
        serviceId: requiredString(body, 'service_id'),
        planId: optionalString(body, 'plan_id'),
        parameters: parametersField(body),
        context: optionalObject(body, 'context'),
      },
      contextOf(req),
    );
    res.status(200).json({});
  };
