import type { Hook } from '@objectstack/spec/data';

/*
 * Every hook carries an explicit sandboxed JS body (QuickJS). In a body hook
 * `ctx.input` is the flat record payload; `ctx.previous` the pre-image on
 * update/delete; `ctx.result` the written record on after* events.
 * Conditions are CEL over `record` (previous merged with the payload) and
 * `previous`.
 */

// A generous per-invocation timeout: the default (250 ms) is easily exceeded by a
// body that reads through ctx.api on a busy machine, which turns the write into a 500.
const js = (source: string, capabilities: Array<'api.read' | 'api.write' | 'log'> = []) => ({
  language: 'js' as const,
  source,
  capabilities,
  timeoutMs: 10000,
});

// ── hd_ticket ───────────────────────────────────────────────────────────────

/** Refuse tickets whose subject looks like spam (beforeInsert, throws). */
export const TicketBlockSpam: Hook = {
  name: 'hd_ticket_block_spam',
  label: 'Refuse spam tickets',
  object: 'hd_ticket',
  events: ['beforeInsert'],
  priority: 5,
  condition:
    'has(record.subject) && record.subject != null && (lower(record.subject).contains("spam") || record.subject.startsWith("[BULK]"))',
  body: js("throw new Error('Ticket refused as spam: ' + ctx.input.subject);"),
};

/** A ticket tagged vip (and only with well-formed tags) is bumped to high priority. */
export const TicketVipBump: Hook = {
  name: 'hd_ticket_vip_bump',
  label: 'VIP tickets start at high priority',
  object: 'hd_ticket',
  events: ['beforeInsert'],
  priority: 8,
  condition:
    'has(record.tags) && record.tags != null && size(record.tags) > 0 && record.tags.exists(t, t == "vip") && record.tags.all(t, size(t) >= 3) && !(record.priority in ["high", "urgent"])',
  body: js("ctx.input.priority = 'high';"),
};

/** Every new ticket starts as new, with a trimmed subject and an SLA due date. */
export const TicketDefaults: Hook = {
  name: 'hd_ticket_defaults',
  label: 'Status, subject and SLA due date on create',
  object: 'hd_ticket',
  events: ['beforeInsert'],
  priority: 10,
  body: js(
    [
      'var input = ctx.input;',
      "if (typeof input.subject === 'string') input.subject = input.subject.trim();",
      "input.status = 'new';",
      "var priority = input.priority || 'normal';",
      "var policies = await ctx.api.object('hd_sla_policy').find({ where: { priority: priority, active: true } });",
      'var list = Array.isArray(policies) ? policies : (policies && policies.records) || [];',
      'var policy = list.length ? list[0] : null;',
      'if (policy && input.opened_on) {',
      "  var d = new Date(String(input.opened_on).slice(0, 10) + 'T00:00:00Z');",
      '  d.setUTCDate(d.getUTCDate() + Number(policy.resolve_days));',
      '  input.due_on = d.toISOString().slice(0, 10);',
      '}',
      "input.escalated = priority === 'urgent';",
    ].join('\n'),
    ['api.read'],
  ),
};

/** High and urgent tickets leave an "escalated" activity behind (afterInsert, ctx.api). */
export const TicketEscalationLog: Hook = {
  name: 'hd_ticket_escalation_log',
  label: 'Log escalations',
  object: 'hd_ticket',
  events: ['afterInsert'],
  priority: 100,
  condition: 'record.priority in ["high", "urgent"] ? true : record.escalated == true',
  // Portal customers cannot write the activity log themselves.
  runAs: 'system',
  body: js(
    [
      'var t = ctx.result || {};',
      "await ctx.api.object('hd_activity').insert({",
      '  ticket: t.id,',
      "  kind: 'escalated',",
      "  detail: 'Opened at ' + t.priority + ' priority (' + t.number + ', due ' + t.due_on + ')',",
      '});',
    ].join('\n'),
    ['api.write'],
  ),
};

/** A ticket with an account bumps the account's open ticket counter. */
export const TicketCountOnAccount: Hook = {
  name: 'hd_ticket_count_on_account',
  label: 'Count open tickets on the account',
  object: 'hd_ticket',
  events: ['afterInsert'],
  priority: 110,
  condition: 'record.account != null && size(record.account) > 0',
  runAs: 'system',
  body: js(
    [
      'var t = ctx.result || {};',
      "var acc = await ctx.api.object('hd_account').findOne({ where: { id: t.account } });",
      'if (acc) {',
      "  await ctx.api.object('hd_account').update({ id: acc.id, open_tickets: (acc.open_tickets || 0) + 1 });",
      '}',
    ].join('\n'),
    ['api.read', 'api.write'],
  ),
};

/** A closed ticket is frozen (beforeUpdate, throws). */
export const TicketFrozenWhenClosed: Hook = {
  name: 'hd_ticket_frozen_when_closed',
  label: 'Closed tickets cannot change',
  object: 'hd_ticket',
  events: ['beforeUpdate'],
  priority: 5,
  condition: 'previous != null && previous.status == "closed"',
  body: js("throw new Error('Ticket ' + ctx.previous.number + ' is closed and cannot be changed');"),
};

/** Resolving stamps resolved_at; reopening counts. */
export const TicketStatusStamps: Hook = {
  name: 'hd_ticket_status_stamps',
  label: 'Resolution stamp and reopen counter',
  object: 'hd_ticket',
  events: ['beforeUpdate'],
  priority: 20,
  condition: 'previous.status != record.status',
  body: js(
    [
      'var before = ctx.previous || {};',
      'var input = ctx.input;',
      'if (input.status === undefined || input.status === before.status) return;',
      "if (input.status === 'resolved' || input.status === 'closed') {",
      "  if (before.status !== 'resolved') input.resolved_at = new Date().toISOString();",
      "} else if (before.status === 'resolved') {",
      '  input.reopen_count = (before.reopen_count || 0) + 1;',
      '  input.resolved_at = null;',
      '}',
    ].join('\n'),
  ),
};

/** A status change is written to the activity log (afterUpdate, ctx.api). */
export const TicketStatusLog: Hook = {
  name: 'hd_ticket_status_log',
  label: 'Log status changes',
  object: 'hd_ticket',
  events: ['afterUpdate'],
  priority: 100,
  condition: 'previous.status != record.status',
  body: js(
    [
      'var before = ctx.previous || {};',
      'var after = ctx.result || {};',
      "await ctx.api.object('hd_activity').insert({",
      '  ticket: before.id,',
      "  kind: 'status',",
      "  detail: before.number + ': ' + before.status + ' -> ' + after.status,",
      '});',
    ].join('\n'),
    ['api.write'],
  ),
};

/** Only resolved or closed tickets may be deleted (beforeDelete, throws). */
export const TicketDeleteGuard: Hook = {
  name: 'hd_ticket_delete_guard',
  label: 'Only finished tickets can be deleted',
  object: 'hd_ticket',
  events: ['beforeDelete'],
  priority: 10,
  condition: '!(record.status in ["resolved", "closed"])',
  body: js("throw new Error('Ticket ' + ctx.previous.number + ' is ' + ctx.previous.status + '; only resolved or closed tickets can be deleted');"),
};

/** A deleted ticket leaves a tombstone in the activity log (afterDelete, ctx.api). */
export const TicketDeleteLog: Hook = {
  name: 'hd_ticket_delete_log',
  label: 'Log deletions',
  object: 'hd_ticket',
  events: ['afterDelete'],
  priority: 100,
  body: js(
    [
      'var before = ctx.previous || {};',
      "await ctx.api.object('hd_activity').insert({",
      "  kind: 'deleted',",
      "  detail: 'Deleted ' + before.number + ' (' + before.subject + ')',",
      '});',
    ].join('\n'),
    ['api.write'],
  ),
};

// ── hd_comment ──────────────────────────────────────────────────────────────

/** Comments must not carry passwords (beforeInsert, throws). */
export const CommentNoSecrets: Hook = {
  name: 'hd_comment_no_secrets',
  label: 'Refuse comments that contain a password',
  object: 'hd_comment',
  events: ['beforeInsert', 'beforeUpdate'],
  priority: 10,
  condition: 'record.body != null && lower(record.body).contains("password:")',
  body: js("throw new Error('Comments must not contain passwords');"),
};

/** A public comment counts on its ticket and opens a new ticket (afterInsert, ctx.api write to another object). */
export const CommentTouchTicket: Hook = {
  name: 'hd_comment_touch_ticket',
  label: 'Public comments update their ticket',
  object: 'hd_comment',
  events: ['afterInsert'],
  priority: 100,
  condition: 'record.is_internal == false',
  body: js(
    [
      'var c = ctx.result || {};',
      "var t = await ctx.api.object('hd_ticket').findOne({ where: { id: c.ticket } });",
      'if (!t) return;',
      'var patch = { id: t.id, comment_count: (t.comment_count || 0) + 1 };',
      "if (t.status === 'new') patch.status = 'open';",
      "await ctx.api.object('hd_ticket').update(patch);",
    ].join('\n'),
    ['api.read', 'api.write'],
  ),
};

// ── hd_contact ──────────────────────────────────────────────────────────────

/** Emails are stored lower-case, names trimmed. */
export const ContactNormalize: Hook = {
  name: 'hd_contact_normalize',
  label: 'Normalise contact email and names',
  object: 'hd_contact',
  events: ['beforeInsert', 'beforeUpdate'],
  priority: 10,
  condition: 'has(record.email) && record.email != null && size(record.email) > 0',
  body: js(
    [
      "if (typeof ctx.input.email === 'string') ctx.input.email = ctx.input.email.trim().toLowerCase();",
      "if (typeof ctx.input.last_name === 'string') ctx.input.last_name = ctx.input.last_name.trim();",
    ].join('\n'),
  ),
};

// ── hd_agent ────────────────────────────────────────────────────────────────

/** Portal customers may not browse the agent directory (beforeFind, throws). */
export const AgentDirectoryGuard: Hook = {
  name: 'hd_agent_directory_guard',
  label: 'Portal customers cannot list agents',
  object: 'hd_agent',
  events: ['beforeFind'],
  priority: 10,
  body: js(
    [
      'var positions = (ctx.session && ctx.session.positions) || [];',
      "if (positions.indexOf('hd_portal_pos') >= 0) throw new Error('The agent directory is not available to portal customers');",
    ].join('\n'),
  ),
};

/** afterFind on agents: tries to mask e-mail addresses in the result. */
export const AgentMaskEmail: Hook = {
  name: 'hd_agent_mask_email',
  label: 'Mask agent e-mail addresses on read',
  object: 'hd_agent',
  events: ['afterFind'],
  priority: 100,
  body: js(
    [
      'var rows = Array.isArray(ctx.result) ? ctx.result : [];',
      'for (var i = 0; i < rows.length; i++) {',
      "  if (rows[i] && rows[i].email) rows[i].email = 'hidden';",
      '}',
      'return { masked: rows.length };',
    ].join('\n'),
  ),
};

/** Agents must use a desk.test address. The condition has no null guard on purpose. */
export const AgentEmailDomain: Hook = {
  name: 'hd_agent_email_domain',
  label: 'Agents use desk.test addresses',
  object: 'hd_agent',
  events: ['beforeInsert'],
  priority: 20,
  condition: '!record.email.endsWith("@desk.test")',
  body: js("throw new Error('Agent e-mail must be a desk.test address, not ' + ctx.input.email);"),
};

/** An agent cannot be deactivated while tickets are assigned (beforeUpdate + ctx.api read). */
export const AgentDeactivateGuard: Hook = {
  name: 'hd_agent_deactivate_guard',
  label: 'Agents with tickets stay active',
  object: 'hd_agent',
  events: ['beforeUpdate'],
  priority: 10,
  condition: 'previous.active == true && record.active == false',
  body: js(
    [
      "var n = await ctx.api.object('hd_ticket').count({ where: { agent: ctx.previous.id } });",
      "if (n > 0) throw new Error('Agent ' + ctx.previous.name + ' still has ' + n + ' ticket(s)');",
    ].join('\n'),
    ['api.read'],
  ),
};

export const helpdeskHooks = [
  TicketBlockSpam,
  TicketVipBump,
  TicketDefaults,
  TicketEscalationLog,
  TicketCountOnAccount,
  TicketFrozenWhenClosed,
  TicketStatusStamps,
  TicketStatusLog,
  TicketDeleteGuard,
  TicketDeleteLog,
  CommentNoSecrets,
  CommentTouchTicket,
  ContactNormalize,
  AgentDirectoryGuard,
  AgentMaskEmail,
  AgentEmailDomain,
  AgentDeactivateGuard,
];
