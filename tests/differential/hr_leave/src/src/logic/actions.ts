import { defineAction } from '@objectstack/spec/ui';

/*
 * Leave request actions. Every body runs in the QuickJS sandbox with `ctx`
 * (ctx.recordId, ctx.record = the row as the caller can read it, ctx.input =
 * the request params plus recordId/objectName, ctx.user, ctx.api).
 *
 * The `visible` / `disabled` predicates use the CEL macros and functions the
 * real server's CEL library (@marcbachmann/cel-js 8) offers.
 */

/** Shared prologue: the id, the current row, and a guard on its status. */
function prologue(action: string, allowed: string[]): string {
  return (
    "var id = ctx.recordId || (ctx.input && ctx.input.recordId);" +
    "if (!id) throw new Error('" + action + " needs the id of a leave request');" +
    "var current = await ctx.api.object('hr_leave_request').findOne({ where: { id: id } });" +
    "if (!current) throw new Error('Leave request ' + id + ' was not found');" +
    "var allowed = " + JSON.stringify(allowed) + ";" +
    "if (allowed.indexOf(current.status) < 0) throw new Error('" + action + " is not possible while the request is ' + current.status);"
  );
}

export const SubmitAction = defineAction({
  name: 'hr_submit',
  label: 'Submit',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_header', 'list_item'],
  body: {
    language: 'js',
    source:
      prologue('hr_submit', ['draft']) +
      "await ctx.api.object('hr_leave_request').update({ id: id, status: 'submitted' });" +
      "return { id: id, from: current.status, to: 'submitted' };",
    capabilities: ['api.read', 'api.write'],
  },
  // String methods, null handling and size().
  visible: 'record.status == "draft" && record.title.startsWith("") && !record.title.endsWith("!")',
  disabled: 'record.reason == null || size(record.reason) == 0',
  successMessage: 'Submitted for approval.',
});

export const ApproveAction = defineAction({
  name: 'hr_approve',
  label: 'Approve',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_header'],
  body: {
    language: 'js',
    source:
      prologue('hr_approve', ['submitted']) +
      "var comment = (ctx.input && ctx.input.comment) || 'Approved';" +
      "await ctx.api.object('hr_leave_request').update({ id: id, status: 'approved', manager_comment: comment });" +
      "return { id: id, from: current.status, to: 'approved', comment: comment };",
    capabilities: ['api.read', 'api.write'],
  },
  // exists + list membership + has().
  visible:
    'record.status == "submitted" && current_user.positions.exists(p, p in ["hr_manager", "hr_officer", "platform_admin"])',
  disabled: 'has(record.days) && record.days != null && double(record.days) > 15.0',
  successMessage: 'Approved.',
});

export const RejectAction = defineAction({
  name: 'hr_reject',
  label: 'Reject',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_header'],
  params: [{ name: 'comment', label: 'Comment', type: 'text', required: true }],
  body: {
    language: 'js',
    source:
      prologue('hr_reject', ['submitted']) +
      "await ctx.api.object('hr_leave_request').update({ id: id, status: 'rejected', manager_comment: ctx.input.comment });" +
      "return { id: id, from: current.status, to: 'rejected', comment: ctx.input.comment };",
    capabilities: ['api.read', 'api.write'],
  },
  // exists_one + all + ternary.
  visible:
    'record.status == "submitted" && current_user.positions.exists_one(p, p == "everyone") && (size(current_user.positions) > 0 ? current_user.positions.all(p, size(p) > 0) : false)',
  disabled: 'record.approvers != null && record.approvers.filter(a, string(a).startsWith("hr.")).size() == 0',
});

export const CancelAction = defineAction({
  name: 'hr_cancel',
  label: 'Cancel',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_header', 'list_item'],
  body: {
    language: 'js',
    source:
      prologue('hr_cancel', ['draft', 'approved']) +
      "await ctx.api.object('hr_leave_request').update({ id: id, status: 'cancelled' });" +
      "return { id: id, from: current.status, to: 'cancelled' };",
    capabilities: ['api.read', 'api.write'],
  },
  // map + filter + lowerAscii/upperAscii + matches + int().
  visible:
    'record.status in ["draft", "approved"] && ["Draft", "Approved"].map(s, s.lowerAscii()).filter(s, s == record.status).size() == 1',
  disabled:
    'record.title.upperAscii().matches("^LOCKED") || (record.days != null && int(record.days) > 30)',
});

/** Sends the request back to draft WITHOUT checking the status first: the state machine decides. */
export const ReopenAction = defineAction({
  name: 'hr_reopen',
  label: 'Reopen',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_more'],
  body: {
    language: 'js',
    source:
      "var id = ctx.recordId;" +
      "if (!id) throw new Error('hr_reopen needs the id of a leave request');" +
      "await ctx.api.object('hr_leave_request').update({ id: id, status: 'draft' });" +
      "return { id: id, to: 'draft' };",
    capabilities: ['api.write'],
  },
});

/** A body that always throws. */
export const ExplodeAction = defineAction({
  name: 'hr_explode',
  label: 'Explode',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_more'],
  body: {
    language: 'js',
    source: "throw new Error('The leave engine exploded on purpose');",
    capabilities: [],
  },
});

/**
 * Never offered (visible is the CEL constant `false`), but callable. A JSON
 * boolean `visible: false` is legal in 17.4 too, but objectos refuses to load
 * an artifact that has one, so the suite spells it as CEL.
 */
export const HiddenAction = defineAction({
  name: 'hr_hidden',
  label: 'Hidden',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_more'],
  visible: 'false',
  body: {
    language: 'js',
    source: "return { hidden: true, id: ctx.recordId || null };",
    capabilities: [],
  },
});

/** Always disabled (disabled is the CEL constant `true`). */
export const FrozenAction = defineAction({
  name: 'hr_frozen',
  label: 'Frozen',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_more'],
  disabled: 'true',
  body: {
    language: 'js',
    source: "return { frozen: true, id: ctx.recordId || null };",
    capabilities: [],
  },
});

/** visible uses has() and null checks; disabled a double conversion. */
export const ProbeAction = defineAction({
  name: 'hr_probe',
  label: 'Probe',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_more'],
  visible: 'has(record.hr_notes) && (record.hr_notes == null || !record.hr_notes.contains("secret"))',
  disabled: 'double(size(record.title)) / 2.0 > 40.0',
  body: {
    language: 'js',
    source:
      "var r = ctx.record || {};" +
      "return { id: ctx.recordId || null, status: r.status || null, title: r.title || null, sees_hr_notes: Object.prototype.hasOwnProperty.call(r, 'hr_notes'), user_positions: (ctx.user && ctx.user.positions) ? ctx.user.positions.slice().sort() : null };",
    capabilities: [],
  },
});

/** Declarative update: runs AS THE CALLER, so permissions and validations apply. */
export const MarkUrgentAction = defineAction({
  name: 'hr_mark_urgent',
  label: 'Mark Urgent',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_header'],
  operation: 'update',
  patch: { priority: 'urgent' },
});

/** Needs a capability nobody has. */
export const PurgeAction = defineAction({
  name: 'hr_purge_notes',
  label: 'Purge HR Notes',
  objectName: 'hr_leave_request',
  type: 'script',
  locations: ['record_more'],
  requiredPermissions: ['hr_purge_capability'],
  body: {
    language: 'js',
    source: "return { purged: true };",
    capabilities: [],
  },
});

/** A client-side action: nothing for the server to run. */
export const HandbookAction = defineAction({
  name: 'hr_open_handbook',
  label: 'Open Handbook',
  objectName: 'hr_leave_request',
  type: 'url',
  target: 'https://handbook.corp.test/leave',
  locations: ['record_more'],
});

/** Declared on hr_employee only. */
export const PromoteAction = defineAction({
  name: 'hr_promote',
  label: 'Promote',
  objectName: 'hr_employee',
  type: 'script',
  locations: ['record_header'],
  body: {
    language: 'js',
    source:
      "var id = ctx.recordId;" +
      "if (!id) throw new Error('hr_promote needs the id of an employee');" +
      "var e = await ctx.api.object('hr_employee').findOne({ where: { id: id } });" +
      "if (!e) throw new Error('Employee ' + id + ' was not found');" +
      "if (e.job_level === 'hr') throw new Error('Nobody is above HR');" +
      "var next = e.job_level === 'employee' ? 'manager' : 'hr';" +
      "await ctx.api.object('hr_employee').update({ id: id, job_level: next });" +
      "return { id: id, from: e.job_level, to: next };",
    capabilities: ['api.read', 'api.write'],
  },
  visible: 'record.job_level != "hr"',
});

export const hrActions = [
  SubmitAction,
  ApproveAction,
  RejectAction,
  CancelAction,
  ReopenAction,
  ExplodeAction,
  HiddenAction,
  FrozenAction,
  ProbeAction,
  MarkUrgentAction,
  PurgeAction,
  HandbookAction,
  PromoteAction,
];
