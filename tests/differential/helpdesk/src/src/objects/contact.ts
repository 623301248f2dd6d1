import { ObjectSchema, Field } from '@objectstack/spec/data';
import { cel } from '@objectstack/spec';

/** A person at a customer account. */
export const HdContact = ObjectSchema.create({
  name: 'hd_contact',
  label: 'Contact',
  pluralLabel: 'Contacts',
  icon: 'user',
  description: 'A person at a customer account who raises tickets.',
  sharingModel: 'public_read_write',
  fields: {
    first_name: Field.text({ label: 'First Name', maxLength: 60 }),
    last_name: Field.text({ label: 'Last Name', required: true, maxLength: 60 }),
    email: Field.email({ label: 'Email', maxLength: 160 }),
    account: Field.lookup('hd_account', { label: 'Account' }),
    vip: Field.boolean({ label: 'VIP', defaultValue: false }),
    full_name: Field.formula({
      label: 'Full Name',
      returnType: 'text',
      expression: cel`(has(record.first_name) && record.first_name != null ? record.first_name + " " : "") + record.last_name`,
    }),
    email_domain: Field.formula({
      label: 'Email Domain',
      returnType: 'text',
      expression: cel`record.email != null && record.email.contains("@") ? record.email.split("@")[1] : ""`,
    }),
  },
  enable: { apiEnabled: true },
});
