import { ObjectSchema, Field } from '@objectstack/spec/data';

/** A place where stock is kept; warehouses nest (site > building > zone). */
export const InvWarehouse = ObjectSchema.create({
  name: 'inv_warehouse',
  label: 'Warehouse',
  pluralLabel: 'Warehouses',
  icon: 'warehouse',
  description: 'A stock location.',
  sharingModel: 'public_read_write',
  nameField: 'name',
  fields: {
    name: Field.text({ label: 'Name', required: true, unique: true, searchable: true, maxLength: 60 }),
    code: Field.text({ label: 'Code', required: true, unique: true, maxLength: 6 }),
    parent: { type: 'tree', label: 'Parent Location', reference: 'inv_warehouse' },
    manager: Field.user({ label: 'Manager' }),
    capacity: Field.number({ label: 'Capacity', min: 0, max: 1000000, scale: 0 }),
    opened_on: Field.date({ label: 'Opened On' }),
    opens_at: Field.time({ label: 'Opens At' }),
    bonded: Field.boolean({ label: 'Bonded', defaultValue: false }),
    position: Field.location({ label: 'GPS Position' }),
    zone_color: Field.color({ label: 'Zone Colour' }),
    dock_count: Field.slider({ label: 'Docks', min: 0, max: 20, step: 1 }),
    utilization: { type: 'progress', label: 'Utilization', min: 0, max: 100 },
    floor_plan: Field.image({ label: 'Floor Plan' }),
    layout: Field.code('json', { label: 'Layout' }),
    contact_email: Field.email({ label: 'Contact Email' }),
  },
  enable: { apiEnabled: true, searchable: true },
});
