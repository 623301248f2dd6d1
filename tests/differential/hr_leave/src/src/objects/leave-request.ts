import { ObjectSchema, Field } from '@objectstack/spec/data';

/**
 * A leave request. Private: a user sees the requests they own, unless a
 * permission set, a sharing rule or an RLS policy says otherwise.
 *
 * Status flow (state_machine hr_leave_status_flow):
 *   draft -> submitted | cancelled
 *   submitted -> approved | rejected | draft
 *   approved -> cancelled
 *   rejected -> draft
 *   cancelled -> (none)
 */
export const HrLeaveRequest = ObjectSchema.create({
  name: 'hr_leave_request',
  label: 'Leave Request',
  pluralLabel: 'Leave Requests',
  icon: 'plane',
  description: 'A request for time off, moving through draft, submitted, approved/rejected and cancelled.',
  sharingModel: 'private',
  nameField: 'title',
  fields: {
    title: Field.text({ label: 'Title', required: true, maxLength: 100, searchable: true }),
    employee: Field.lookup('hr_employee', { label: 'Employee' }),
    leave_type: Field.select({
      label: 'Leave Type',
      options: [
        { label: 'Annual', value: 'annual', default: true },
        { label: 'Sick', value: 'sick' },
        { label: 'Unpaid', value: 'unpaid' },
        { label: 'Parental', value: 'parental' },
        { label: 'Study', value: 'study' },
      ],
      // Locked once the request is approved or cancelled.
      readonlyWhen: 'record.status in ["approved", "cancelled"]',
    }),
    status: Field.select({
      label: 'Status',
      options: [
        { label: 'Draft', value: 'draft', default: true },
        { label: 'Submitted', value: 'submitted' },
        { label: 'Approved', value: 'approved' },
        { label: 'Rejected', value: 'rejected' },
        { label: 'Cancelled', value: 'cancelled' },
      ],
    }),
    priority: Field.select({
      label: 'Priority',
      options: [
        { label: 'Normal', value: 'normal', default: true },
        {
          label: 'Urgent',
          value: 'urgent',
          // Only managers (and the platform admin) may mark a request urgent.
          visibleWhen: 'current_user.positions.exists(p, p == "platform_admin" || p.endsWith("_manager"))',
        },
      ],
    }),
    start_date: Field.date({ label: 'Start Date', required: true }),
    end_date: Field.date({ label: 'End Date', required: true }),
    days: Field.number({ label: 'Days', min: 0 }),
    half_day: Field.boolean({ label: 'Half Day', defaultValue: false }),
    reason: Field.textarea({ label: 'Reason' }),
    ref_code: Field.text({ label: 'Reference Code', maxLength: 20 }),
    document_url: Field.text({ label: 'Document URL', maxLength: 300 }),
    // A list of approver email addresses (JSON array of strings).
    approvers: Field.json({ label: 'Approvers' }),
    // Handover details (JSON object), checked by hr_leave_details_schema.
    details: Field.json({ label: 'Handover Details' }),
    // Required when the request is rejected (a transition gate).
    manager_comment: Field.text({ label: 'Manager Comment', maxLength: 200, requiredWhen: 'record.status == "rejected"' }),
    // Hidden from employees by field-level security.
    hr_notes: Field.textarea({ label: 'HR Notes' }),
  },
  validations: [
    {
      type: 'state_machine' as const,
      name: 'hr_leave_status_flow',
      label: 'Leave request status flow',
      field: 'status',
      message: 'This status change is not allowed for a leave request.',
      initialStates: ['draft', 'submitted'],
      transitions: {
        draft: ['submitted', 'cancelled'],
        submitted: ['approved', 'rejected', 'draft'],
        approved: ['cancelled'],
        rejected: ['draft'],
        cancelled: [],
      },
    },
    {
      type: 'script' as const,
      name: 'hr_leave_dates_order',
      priority: 10,
      condition: 'record.end_date < record.start_date',
      message: 'The end date must not be before the start date.',
    },
    {
      type: 'cross_field' as const,
      name: 'hr_leave_days_range',
      priority: 20,
      fields: ['days', 'half_day'],
      condition: 'record.days != null && (double(record.days) <= 0.0 || double(record.days) > 60.0 || (record.half_day == true && double(record.days) != 0.5))',
      message: 'Days must be between 0 and 60 (exactly 0.5 for a half day).',
    },
    {
      type: 'format' as const,
      name: 'hr_leave_ref_code_format',
      priority: 30,
      field: 'ref_code',
      regex: '^LV-[0-9]{4}$',
      message: 'A reference code looks like LV-1234.',
    },
    {
      type: 'json_schema' as const,
      name: 'hr_leave_details_schema',
      priority: 40,
      field: 'details',
      schema: {
        type: 'object',
        required: ['handover'],
        properties: {
          handover: { type: 'string', minLength: 3 },
          backup: { type: 'string' },
        },
      },
      message: 'Handover details need a handover note of at least 3 characters.',
    },
    {
      type: 'conditional' as const,
      name: 'hr_leave_sick_or_unpaid',
      priority: 50,
      when: 'record.leave_type == "sick" && record.days != null && int(record.days) > 2',
      message: 'Sick and unpaid leave checks',
      then: {
        type: 'script' as const,
        name: 'hr_leave_sick_document',
        condition: 'record.document_url == null || !record.document_url.startsWith("https://")',
        message: 'Sick leave of more than 2 days needs an https:// document link.',
      },
      otherwise: {
        type: 'script' as const,
        name: 'hr_leave_unpaid_reason',
        condition: 'record.leave_type == "unpaid" && (record.reason == null || size(record.reason) < 10)',
        message: 'Unpaid leave needs a reason of at least 10 characters.',
      },
    },
    {
      type: 'script' as const,
      name: 'hr_leave_approvers_corporate',
      priority: 60,
      condition: 'record.approvers != null && !record.approvers.map(a, string(a).lowerAscii()).all(a, a.endsWith("@corp.test"))',
      message: 'Every approver must have a @corp.test address.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_approvers_one_hr',
      priority: 61,
      condition: 'record.approvers != null && record.approvers.filter(a, string(a).startsWith("hr.")).size() > 1',
      message: 'At most one HR approver may be named.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_approvers_no_ceo',
      priority: 63,
      condition: 'record.approvers != null && record.approvers.exists(a, string(a).startsWith("ceo."))',
      message: 'The CEO does not approve leave requests.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_approvers_one_lead',
      priority: 62,
      condition: 'record.approvers != null && size(record.approvers) > 0 && !record.approvers.exists_one(a, string(a).contains(".lead@"))',
      message: 'Exactly one approver must be a team lead.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_title_capital',
      priority: 70,
      condition: '!record.title.matches("^[A-Z]")',
      message: 'The title must start with a capital letter.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_title_not_shouting',
      priority: 71,
      condition: 'size(record.title) > 3 && record.title.upperAscii() == record.title',
      message: 'The title must not be written in capitals only.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_type_cap',
      priority: 80,
      condition: 'record.days != null && int(record.days) > (record.leave_type in ["annual", "unpaid"] ? 20 : 10)',
      message: 'Too many days for this leave type (20 for annual and unpaid leave, 10 otherwise).',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_study_cap',
      priority: 81,
      // No null guard on purpose (dyn() hides it from the author-time lint):
      // a study request without days cannot be evaluated.
      condition: 'record.leave_type == "study" && dyn(record.days) > 5.0',
      message: 'Study leave is limited to 5 days.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_parental_partner',
      priority: 82,
      // Reads a key of the JSON details: unevaluable for parental requests whose details lack it.
      condition: 'record.leave_type == "parental" && record.details.backup == ""',
      message: 'Parental leave needs a named backup.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_hr_block',
      priority: 83,
      condition: 'has(record.hr_notes) && record.hr_notes != null && record.hr_notes.contains("BLOCK")',
      message: 'HR has blocked this request.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_long_warning',
      priority: 90,
      severity: 'warning' as const,
      condition: 'record.days != null && double(record.days) > 15.0',
      message: 'Long leave: more than 15 days.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_disabled_rule',
      priority: 91,
      active: false,
      condition: 'true',
      message: 'This rule is inactive and never fires.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_not_before_2020',
      priority: 92,
      events: ['insert' as const],
      condition: 'record.start_date < "2020-01-01"',
      message: 'Leave cannot start before 2020.',
    },
    {
      type: 'script' as const,
      name: 'hr_leave_approved_dates_frozen',
      priority: 93,
      events: ['update' as const],
      condition: 'previous.status == "approved" && record.status == "approved" && (record.start_date != previous.start_date || record.end_date != previous.end_date)',
      message: 'The dates of an approved request are frozen.',
    },
  ],
  enable: { apiEnabled: true },
});
