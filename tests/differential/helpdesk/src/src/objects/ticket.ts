import { ObjectSchema, Field } from '@objectstack/spec/data';
import { cel, P } from '@objectstack/spec';

/** A support request. Its due date comes from the SLA policy of its priority. */
export const HdTicket = ObjectSchema.create({
  name: 'hd_ticket',
  label: 'Ticket',
  pluralLabel: 'Tickets',
  icon: 'life-buoy',
  description: 'A customer support request, with an SLA due date computed from its priority.',
  sharingModel: 'private',
  nameField: 'subject',
  fields: {
    number: Field.autonumber({ label: 'Number', autonumberFormat: 'TKT-{0000}' }),
    subject: Field.text({ label: 'Subject', required: true, searchable: true, maxLength: 200 }),
    description: Field.textarea({ label: 'Description' }),
    priority: Field.select({
      label: 'Priority',
      options: [
        { label: 'Low', value: 'low' },
        { label: 'Normal', value: 'normal', default: true },
        { label: 'High', value: 'high' },
        { label: 'Urgent', value: 'urgent' },
      ],
    }),
    status: Field.select({
      label: 'Status',
      options: [
        { label: 'New', value: 'new', default: true },
        { label: 'Open', value: 'open' },
        { label: 'Pending', value: 'pending' },
        { label: 'Resolved', value: 'resolved' },
        { label: 'Closed', value: 'closed' },
      ],
    }),
    channel: Field.select({
      label: 'Channel',
      defaultValue: 'email',
      options: [
        { label: 'Email', value: 'email' },
        { label: 'Phone', value: 'phone' },
        { label: 'Web', value: 'web' },
        { label: 'Chat', value: 'chat' },
      ],
    }),
    tags: Field.select({
      label: 'Tags',
      multiple: true,
      options: [
        { label: 'VIP', value: 'vip' },
        { label: 'Billing', value: 'billing' },
        { label: 'Bug', value: 'bug' },
        { label: 'Outage', value: 'outage' },
        { label: 'PR', value: 'pr' },
      ],
    }),
    account: Field.lookup('hd_account', { label: 'Account' }),
    contact: Field.lookup('hd_contact', { label: 'Contact' }),
    agent: Field.lookup('hd_agent', { label: 'Agent' }),
    requester: Field.lookup('sys_user', { label: 'Requester', defaultValue: 'current_user' }),
    opened_on: Field.date({ label: 'Opened On', defaultValue: { dialect: 'cel', source: 'today()' } }),
    // Set by the hd_ticket_defaults hook from the SLA policy.
    due_on: Field.date({ label: 'Due On' }),
    resolved_at: Field.datetime({ label: 'Resolved At' }),
    escalated: Field.boolean({ label: 'Escalated', defaultValue: false }),
    reopen_count: Field.number({ label: 'Reopen Count', defaultValue: 0 }),
    comment_count: Field.number({ label: 'Comment Count', defaultValue: 0 }),
    satisfaction: Field.number({ label: 'Satisfaction', min: 1, max: 5 }),
    internal_notes: Field.textarea({ label: 'Internal Notes' }),
    headline: Field.formula({
      label: 'Headline',
      returnType: 'text',
      expression: cel`"[" + upper(record.priority) + "] " + record.subject`,
    }),
    weight: Field.formula({
      label: 'Weight',
      returnType: 'number',
      expression: cel`(record.priority == "urgent" ? 40 : (record.priority == "high" ? 30 : (record.priority == "normal" ? 20 : 10))) + (record.escalated ? 5 : 0) + record.reopen_count * 2`,
    }),
    sla_days: Field.formula({
      label: 'SLA Days',
      returnType: 'number',
      expression: cel`record.due_on != null && record.opened_on != null ? daysBetween(record.opened_on, record.due_on) : -1`,
    }),
    review_on: Field.formula({
      label: 'Review On',
      returnType: 'date',
      expression: cel`addDays(record.opened_on, 30)`,
    }),
    tag_count: Field.formula({
      label: 'Tag Count',
      returnType: 'number',
      expression: cel`has(record.tags) && record.tags != null ? size(record.tags) : 0`,
    }),
    is_open: Field.formula({
      label: 'Is Open',
      returnType: 'boolean',
      expression: cel`record.status in ["new", "open", "pending"]`,
    }),
  },
  validations: [
    {
      type: 'script' as const,
      name: 'hd_ticket_satisfaction_when_resolved',
      label: 'Satisfaction only on resolved tickets',
      condition: P`record.satisfaction != null && !(record.status in ["resolved", "closed"])`,
      message: 'Satisfaction can only be rated once the ticket is resolved.',
      severity: 'error' as const,
    },
  ],
  enable: { apiEnabled: true, searchable: true },
});
