import { ObjectSchema, Field } from '@objectstack/spec/data';
import { cel } from '@objectstack/spec';

/** A customer organisation that raises tickets. */
export const HdAccount = ObjectSchema.create({
  name: 'hd_account',
  label: 'Account',
  pluralLabel: 'Accounts',
  icon: 'building',
  description: 'A customer organisation served by the helpdesk.',
  sharingModel: 'public_read_write',
  nameField: 'name',
  fields: {
    name: Field.text({ label: 'Name', required: true, searchable: true, maxLength: 120 }),
    tier: Field.select({
      label: 'Tier',
      options: [
        { label: 'Standard', value: 'standard', default: true },
        { label: 'Premium', value: 'premium' },
        { label: 'Enterprise', value: 'enterprise' },
      ],
    }),
    domain: Field.text({ label: 'Domain', maxLength: 120 }),
    seats: Field.number({ label: 'Seats', min: 0, defaultValue: 5 }),
    active: Field.boolean({ label: 'Active', defaultValue: true }),
    // Maintained by the hd_ticket_count_on_account hook.
    open_tickets: Field.number({ label: 'Open Tickets', defaultValue: 0 }),
    tier_rank: Field.formula({
      label: 'Tier Rank',
      returnType: 'number',
      expression: cel`record.tier == "enterprise" ? 3 : (record.tier == "premium" ? 2 : 1)`,
    }),
    summary: Field.formula({
      label: 'Summary',
      returnType: 'text',
      expression: cel`record.name + " (" + (has(record.domain) && record.domain != null ? record.domain : "no domain") + ")"`,
    }),
  },
  enable: { apiEnabled: true, searchable: true },
});
