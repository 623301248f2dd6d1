import { defineSeed } from '@objectstack/spec/data';
import { InvWarehouse } from '../objects/warehouse.js';

/** Two warehouses so a fresh environment is not empty. */
const warehouses = defineSeed(InvWarehouse, {
  mode: 'upsert',
  externalId: 'code',
  records: [
    { name: 'Central', code: 'CEN', capacity: 50000, opened_on: '2019-04-01', bonded: true },
    { name: 'North Annex', code: 'NOR', capacity: 12000, opened_on: '2021-09-15' },
  ],
});

export const inventorySeed = [warehouses];
