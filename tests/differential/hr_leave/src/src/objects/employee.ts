import { ObjectSchema, Field } from '@objectstack/spec/data';

/** An employee. The salary is hidden from employees by field-level security. */
export const HrEmployee = ObjectSchema.create({
  name: 'hr_employee',
  label: 'Employee',
  pluralLabel: 'Employees',
  icon: 'user',
  description: 'A person employed by the company, who can file leave requests.',
  sharingModel: 'public_read_write',
  fields: {
    full_name: Field.text({ label: 'Full Name', required: true, maxLength: 120, searchable: true }),
    // Plain text fields, so that the format rules (not the field types) judge them.
    work_email: Field.text({ label: 'Work Email', required: true, maxLength: 120 }),
    phone: Field.text({ label: 'Phone', maxLength: 40 }),
    homepage: Field.text({ label: 'Homepage', maxLength: 200 }),
    department: Field.lookup('hr_department', { label: 'Department' }),
    job_level: Field.select({
      label: 'Job Level',
      options: [
        { label: 'Employee', value: 'employee', default: true },
        { label: 'Manager', value: 'manager' },
        { label: 'HR', value: 'hr' },
      ],
    }),
    salary: Field.currency({ label: 'Salary', min: 0, scale: 2 }),
    // Checked against a JSON schema by hr_employee_profile_schema.
    profile: Field.json({ label: 'Profile' }),
    // Checked by hr_employee_settings_json (format: json).
    settings_text: Field.textarea({ label: 'Settings (JSON text)' }),
  },
  validations: [
    {
      type: 'format' as const,
      name: 'hr_employee_email_format',
      field: 'work_email',
      format: 'email' as const,
      message: 'The work email is not a valid email address.',
    },
    {
      type: 'format' as const,
      name: 'hr_employee_phone_format',
      field: 'phone',
      format: 'phone' as const,
      message: 'The phone number is not valid.',
    },
    {
      type: 'format' as const,
      name: 'hr_employee_homepage_format',
      field: 'homepage',
      format: 'url' as const,
      message: 'The homepage must be an absolute URL.',
    },
    {
      type: 'format' as const,
      name: 'hr_employee_settings_json',
      field: 'settings_text',
      format: 'json' as const,
      message: 'Settings must be valid JSON text.',
    },
    {
      type: 'json_schema' as const,
      name: 'hr_employee_profile_schema',
      field: 'profile',
      schema: {
        type: 'object',
        required: ['languages'],
        properties: {
          languages: { type: 'array', items: { type: 'string', minLength: 2 }, minItems: 1 },
          remote: { type: 'boolean' },
        },
        additionalProperties: false,
      },
      message: 'The profile must list at least one language (and nothing unknown).',
    },
    {
      type: 'cross_field' as const,
      name: 'hr_employee_salary_band',
      fields: ['salary', 'job_level'],
      condition: 'record.salary != null && record.job_level == "employee" && double(record.salary) > 150000.0',
      message: 'An employee-level salary cannot exceed 150000.',
    },
  ],
  enable: { apiEnabled: true },
});
