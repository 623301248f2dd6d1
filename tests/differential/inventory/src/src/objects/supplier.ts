import { ObjectSchema, Field } from '@objectstack/spec/data';

/** A company we buy items from. */
export const InvSupplier = ObjectSchema.create({
  name: 'inv_supplier',
  label: 'Supplier',
  pluralLabel: 'Suppliers',
  icon: 'truck',
  description: 'A company that supplies items.',
  sharingModel: 'public_read_write',
  nameField: 'name',
  fields: {
    name: Field.text({ label: 'Name', required: true, unique: true, searchable: true, maxLength: 80 }),
    code: Field.text({ label: 'Code', unique: true, maxLength: 8 }),
    email: Field.email({ label: 'Email', required: true }),
    website: Field.url({ label: 'Website' }),
    phone: Field.phone({ label: 'Phone' }),
    country: Field.select({
      label: 'Country',
      options: [
        { label: 'France', value: 'fr' },
        { label: 'Germany', value: 'de', default: true },
        { label: 'Japan', value: 'jp' },
      ],
    }),
    rating: Field.rating(5, { label: 'Rating' }),
    preferred: { type: 'toggle', label: 'Preferred', defaultValue: false },
    notes: Field.richtext({ label: 'Notes' }),
    terms: Field.markdown({ label: 'Terms' }),
    portal_password: Field.password({ label: 'Portal Password', ackPlaintextMasking: true }),
    api_key: Field.secret({ label: 'API Key' }),
    head_office: Field.address({ label: 'Head Office' }),
    logo: Field.avatar({ label: 'Logo' }),
  },
  enable: { apiEnabled: true, searchable: true },
});

/** A supply contract; cannot outlive (and blocks deleting) its supplier. */
export const InvSupplierContract = ObjectSchema.create({
  name: 'inv_supplier_contract',
  label: 'Supplier Contract',
  pluralLabel: 'Supplier Contracts',
  icon: 'file-signature',
  description: 'A contract with a supplier (master-detail, restrict).',
  sharingModel: 'public_read_write',
  fields: {
    supplier: Field.masterDetail('inv_supplier', { label: 'Supplier', required: true, deleteBehavior: 'restrict' }),
    title: Field.text({ label: 'Title', required: true, maxLength: 60 }),
    starts_on: Field.date({ label: 'Starts On', required: true }),
    ends_on: Field.date({ label: 'Ends On' }),
    document: Field.file({ label: 'Document' }),
    signed: Field.signature({ label: 'Signature', maxLength: 200 }),
  },
  validations: [
    {
      type: 'cross_field' as const,
      name: 'inv_contract_dates',
      label: 'Contract ends after it starts',
      condition: 'has(record.ends_on) && record.ends_on != null && record.ends_on < record.starts_on',
      fields: ['starts_on', 'ends_on'],
      message: 'A contract cannot end before it starts.',
      severity: 'error' as const,
    },
  ],
  enable: { apiEnabled: true },
});
