// Inventory — an app written for objectos' differential suite.
//
// Warehouses (nested), items, their stock movements (receipts, issues and
// transfers) and suppliers with contracts. The objects between them use every
// field type of the 17.4 spec, formulas, defaults, autonumbers, roll-up
// summaries and each delete behaviour (set_null, restrict, cascade) on lookups
// and master-detail fields.
import { defineStack } from '@objectstack/spec';
import { InvSupplier, InvSupplierContract, InvWarehouse, InvItem, InvStockMovement } from './src/objects/index.js';
import { inventoryHooks } from './src/logic/hooks.js';
import { inventoryPositions, inventoryPermissionSets } from './src/security/access.js';
import { inventorySeed } from './src/data/seed.js';

export default defineStack({
  manifest: {
    id: 'com.difftest.inventory',
    namespace: 'inv',
    version: '0.1.0',
    type: 'app',
    name: 'Inventory',
    description: 'Warehouses, items, stock movements and suppliers.',
    engines: { protocol: '^17' },
  },
  requires: ['automation'],
  plugins: [],
  objects: [InvSupplier, InvSupplierContract, InvWarehouse, InvItem, InvStockMovement],
  hooks: inventoryHooks,
  positions: inventoryPositions,
  permissions: inventoryPermissionSets,
  data: inventorySeed,
});
