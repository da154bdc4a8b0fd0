import type { RequestHandler } from 'express';
import type { BrokerService } from '../service';

export const getCatalog =
  (service: BrokerService): RequestHandler =>
  (_req, res) => {
    res.status(200).json(service.catalog());
  };
