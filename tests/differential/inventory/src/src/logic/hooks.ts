import type { Hook, HookContext } from '@objectstack/spec/data';

/** beforeInsert on inv_stock_movement: references are stored trimmed and upper-case. */
export const MovementReferenceHook: Hook = {
  name: 'inv_movement_reference',
  label: 'Normalise movement references',
  object: 'inv_stock_movement',
  events: ['beforeInsert'],
  priority: 10,
  handler: async (ctx: HookContext) => {
    const input = ctx.input as { reference?: unknown };
    if (typeof input.reference === 'string') {
      input.reference = input.reference.trim().toUpperCase();
    }
  },
};

export const inventoryHooks = [MovementReferenceHook];
