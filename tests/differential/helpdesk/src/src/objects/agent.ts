import { ObjectSchema, Field } from '@objectstack/spec/data';
import { cel } from '@objectstack/spec';

/** A support agent who works tickets. */
export const HdAgent = ObjectSchema.create({
  name: 'hd_agent',
  label: 'Agent',
  pluralLabel: 'Agents',
  icon: 'headset',
  description: 'A member of the support team.',
  sharingModel: 'public_read_write',
  nameField: 'name',
  fields: {
    name: Field.text({ label: 'Name', required: true, maxLength: 80 }),
    email: Field.email({ label: 'Email' }),
    team: Field.select({
      label: 'Team',
      options: [
        { label: 'Tier 1', value: 'tier1', default: true },
        { label: 'Tier 2', value: 'tier2' },
        { label: 'Billing', value: 'billing' },
      ],
    }),
    capacity: Field.number({ label: 'Capacity', min: 0, max: 50, defaultValue: 10 }),
    active: Field.boolean({ label: 'Active', defaultValue: true }),
    handle: Field.formula({
      label: 'Handle',
      returnType: 'text',
      expression: cel`upper(record.team) + ":" + record.name`,
    }),
  },
  enable: { apiEnabled: true },
});
