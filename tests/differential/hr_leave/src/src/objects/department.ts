import { ObjectSchema, Field } from '@objectstack/spec/data';

/** A department: the unit employees belong to. */
export const HrDepartment = ObjectSchema.create({
  name: 'hr_department',
  label: 'Department',
  pluralLabel: 'Departments',
  icon: 'building',
  description: 'An organisational unit that employees belong to.',
  sharingModel: 'public_read_write',
  fields: {
    name: Field.text({ label: 'Name', required: true, maxLength: 80, searchable: true }),
    // Validated by the hr_department_code_format regex rule.
    code: Field.text({ label: 'Code', required: true, unique: true, maxLength: 8 }),
    budget: Field.currency({ label: 'Budget', min: 0, scale: 2 }),
  },
  validations: [
    {
      type: 'format' as const,
      name: 'hr_department_code_format',
      label: 'Department code format',
      field: 'code',
      regex: '^[A-Z]{2,5}$',
      message: 'A department code is 2 to 5 capital letters.',
    },
  ],
  enable: { apiEnabled: true },
});
