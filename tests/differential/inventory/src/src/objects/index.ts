export { InvSupplier, InvSupplierContract } from './supplier.js';
export { InvWarehouse } from './warehouse.js';
export { InvItem } from './item.js';
export { InvStockMovement } from './movement.js';
