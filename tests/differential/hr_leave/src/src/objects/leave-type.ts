import { ObjectSchema, Field } from '@objectstack/spec/data';

/** A kind of leave (annual, sick, …) with its yearly cap. */
export const HrLeaveType = ObjectSchema.create({
  name: 'hr_leave_type',
  label: 'Leave Type',
  pluralLabel: 'Leave Types',
  icon: 'calendar',
  description: 'A category of leave with a maximum number of days per request.',
  sharingModel: 'public_read_write',
  fields: {
    name: Field.text({ label: 'Name', required: true, maxLength: 60 }),
    code: Field.text({ label: 'Code', required: true, maxLength: 20 }),
    max_days: Field.number({ label: 'Max Days', min: 0 }),
    paid: Field.boolean({ label: 'Paid', defaultValue: true }),
    requires_document: Field.boolean({ label: 'Requires Document', defaultValue: false }),
  },
  validations: [
    {
      type: 'cross_field' as const,
      name: 'hr_leave_type_max_days_cap',
      fields: ['max_days'],
      condition: 'record.max_days != null && int(record.max_days) > 60',
      message: 'No leave type may allow more than 60 days.',
    },
    {
      type: 'conditional' as const,
      name: 'hr_leave_type_unpaid_rules',
      when: 'record.paid == false',
      message: 'Unpaid leave type rules',
      then: {
        type: 'script' as const,
        name: 'hr_leave_type_unpaid_cap',
        condition: 'record.max_days != null && record.max_days > 10.0',
        message: 'An unpaid leave type may allow at most 10 days.',
      },
      otherwise: {
        type: 'script' as const,
        name: 'hr_leave_type_code_case',
        condition: 'record.code != record.code.lowerAscii()',
        message: 'A paid leave type code must be lower case.',
      },
    },
  ],
  enable: { apiEnabled: true },
});
