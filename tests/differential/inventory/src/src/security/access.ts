import { definePermissionSet } from '@objectstack/spec/security';
import { definePosition } from '@objectstack/spec/identity';

export const inventoryPositions = [
  definePosition({ name: 'inv_clerk', label: 'Stock Clerk', description: 'Books stock movements.' }),
];

/** Clerks read everything and book movements; they cannot change master data. */
export const ClerkAccess = definePermissionSet({
  name: 'inv_clerk_access',
  label: 'Inventory Clerk',
  description: 'Read master data, create stock movements.',
  objects: {
    inv_item: { allowRead: true },
    inv_warehouse: { allowRead: true },
    inv_supplier: { allowRead: true },
    inv_supplier_contract: { allowRead: false },
    inv_stock_movement: { allowCreate: true, allowRead: true },
  },
  fields: {
    'inv_item.cost': { readable: false, editable: false },
  },
});

export const inventoryPermissionSets = [ClerkAccess];
