import { ObjectSchema, Field } from '@objectstack/spec/data';
import { cel } from '@objectstack/spec';

/** A reply on a ticket (master-detail). */
export const HdComment = ObjectSchema.create({
  name: 'hd_comment',
  label: 'Comment',
  pluralLabel: 'Comments',
  icon: 'message-square',
  description: 'A public reply or an internal note on a ticket.',
  sharingModel: 'controlled_by_parent',
  fields: {
    ticket: Field.masterDetail('hd_ticket', { label: 'Ticket', required: true, deleteBehavior: 'cascade' }),
    body: Field.textarea({ label: 'Body', required: true, maxLength: 2000 }),
    is_internal: Field.boolean({ label: 'Internal', defaultValue: false }),
    author: Field.text({ label: 'Author', maxLength: 80 }),
    posted_at: Field.datetime({ label: 'Posted At', defaultValue: 'NOW()' }),
    preview: Field.formula({
      label: 'Preview',
      returnType: 'text',
      expression: cel`size(record.body) > 24 ? record.body.substring(0, 24) + "..." : record.body`,
    }),
  },
  enable: { apiEnabled: true },
});
