import type { RequestHandler } from 'express';
import type { BrokerService } from '../service';
import { contextOf, objectBody, optionalObject, parametersField, requiredString } from './request-fields';

export const provision =
  (service: BrokerService): RequestHandler =>
  async (req, res) => {
    const body = objectBody(req);
    const context = optionalObject(body, 'context');
    const result = await service.provision(
      req.params.instance_id as string,
      {
        serviceId: requiredString(body, 'service_id'),
        planId: requiredString(body, 'plan_id'),
        organizationGuid: requiredString(body, 'organization_guid'),
        spaceGuid: requiredString(body, 'space_guid'),
        parameters: parametersField(body),
        context,
      },
      contextOf(req),
    );
    res.status(result.created ? 201 : 200).json(result.dashboardUrl ? { dashboard_url: result.dashboardUrl } : {});
  };
