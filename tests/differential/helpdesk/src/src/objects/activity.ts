import { ObjectSchema, Field } from '@objectstack/spec/data';

/** An entry in a ticket's history, written only by hooks. */
export const HdActivity = ObjectSchema.create({
  name: 'hd_activity',
  label: 'Ticket Activity',
  pluralLabel: 'Ticket Activities',
  icon: 'history',
  description: 'What happened to a ticket (written by hooks through ctx.api).',
  sharingModel: 'public_read_write',
  fields: {
    ticket: Field.lookup('hd_ticket', { label: 'Ticket' }),
    kind: Field.select({
      label: 'Kind',
      options: [
        { label: 'Escalated', value: 'escalated' },
        { label: 'Status Change', value: 'status' },
        { label: 'Comment', value: 'comment' },
        { label: 'Deleted', value: 'deleted' },
      ],
    }),
    detail: Field.text({ label: 'Detail', maxLength: 500 }),
  },
  enable: { apiEnabled: true },
});
