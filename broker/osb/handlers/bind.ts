import type { RequestHandler } from 'express';
import { idProblem } from '../../../shared/ids';
import { badRequest } from '../errors';
import type { BrokerService } from '../service';
import {
  appGuidCandidate,
  contextOf,
  objectBody,
  optionalObject,
  parametersField,
  requiredString,
} from './request-fields';

/** The bind's app guid when it names one; a malformed one is refused. */
function appGuidOf(body: Record<string, unknown>): string | undefined {
  optionalObject(body, 'bind_resource'); // refuses a bind_resource that is not an object
  const candidate = appGuidCandidate(body);
  if (candidate === undefined || candidate === null || candidate === '') return undefined;
  const problem = idProblem(candidate);
  if (problem) throw badRequest(`The app_guid ${problem}.`);
  return candidate as string;
}

export const bind =
  (service: BrokerService): RequestHandler =>
  async (req, res) => {
    const body = objectBody(req);
    const result = await service.bind(
      req.params.instance_id as string,
      req.params.binding_id as string,
      {
        serviceId: requiredString(body, 'service_id'),
        planId: requiredString(body, 'plan_id'),
        appGuid: appGuidOf(body),
        parameters: parametersField(body),
        context: optionalObject(body, 'context'),
      },
      contextOf(req),
    );
    res.status(result.created ? 201 : 200).json({ credentials: result.credentials });
  };
