import type { RequestParamHandler } from 'express';
import { idProblem } from '../../../shared/ids';
import { badRequest } from '../errors';

/** Path ids are checked before any handler sees them, so no unsafe id can become a key. */
export function validateIdParam(label: string): RequestParamHandler {
  return (_req, _res, next, value: unknown) => {
    const problem = idProblem(value);
    if (problem) return next(badRequest(`The ${label} in the URL ${problem}.`));
    next();
  };
}
