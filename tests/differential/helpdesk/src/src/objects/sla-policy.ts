import { ObjectSchema, Field } from '@objectstack/spec/data';

/** How fast a ticket of a given priority must be answered and resolved. */
export const HdSlaPolicy = ObjectSchema.create({
  name: 'hd_sla_policy',
  label: 'SLA Policy',
  pluralLabel: 'SLA Policies',
  icon: 'timer',
  description: 'Response and resolution targets per ticket priority.',
  sharingModel: 'public_read_write',
  nameField: 'name',
  fields: {
    name: Field.text({ label: 'Name', required: true, maxLength: 80 }),
    priority: Field.select({
      label: 'Priority',
      required: true,
      options: [
        { label: 'Low', value: 'low' },
        { label: 'Normal', value: 'normal' },
        { label: 'High', value: 'high' },
        { label: 'Urgent', value: 'urgent' },
      ],
    }),
    response_hours: Field.number({ label: 'Response Hours', min: 0 }),
    resolve_days: Field.number({ label: 'Resolve Days', min: 0, required: true }),
    active: Field.boolean({ label: 'Active', defaultValue: true }),
  },
  enable: { apiEnabled: true },
});
