import { ObjectSchema, Field } from '@objectstack/spec/data';

/** One receipt, issue or transfer of an item's stock. */
export const InvStockMovement = ObjectSchema.create({
  name: 'inv_stock_movement',
  label: 'Stock Movement',
  pluralLabel: 'Stock Movements',
  icon: 'arrow-left-right',
  description: 'A receipt, issue or transfer of stock.',
  sharingModel: 'public_read_write',
  fields: {
    movement_no: Field.autonumber({ label: 'Movement No', autonumberFormat: 'MV-{00000}' }),
    item: Field.masterDetail('inv_item', { label: 'Item', required: true, deleteBehavior: 'cascade' }),
    kind: Field.select({
      label: 'Kind',
      required: true,
      options: [
        { label: 'Receipt', value: 'receipt' },
        { label: 'Issue', value: 'issue' },
        { label: 'Transfer', value: 'transfer' },
      ],
    }),
    quantity: Field.number({ label: 'Quantity', required: true, min: 1, max: 100000 }),
    warehouse: Field.lookup('inv_warehouse', { label: 'Warehouse', required: true, deleteBehavior: 'restrict' }),
    to_warehouse: Field.lookup('inv_warehouse', { label: 'To Warehouse', deleteBehavior: 'cascade' }),
    moved_at: Field.datetime({ label: 'Moved At' }),
    reference: Field.text({ label: 'Reference', maxLength: 30 }),
    note: Field.textarea({ label: 'Note' }),
  },
  validations: [
    {
      type: 'script' as const,
      name: 'inv_transfer_needs_target',
      label: 'A transfer names its target warehouse',
      condition: 'record.kind == "transfer" && (!has(record.to_warehouse) || record.to_warehouse == null)',
      message: 'A transfer needs a target warehouse.',
      severity: 'error' as const,
    },
  ],
  enable: { apiEnabled: true },
});
