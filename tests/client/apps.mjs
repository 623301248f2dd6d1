// Drives one of the differential suite's apps (tests/differential/<APP>) through the PUBLISHED
// @objectstack/client 17.4.0 and prints one JSON line per step: {"step", "ok", "value"}, where `value` is a
// normalized outcome (the error's status and code, record counts, the fields the app decides). Ids are
// replaced by the names this script gave them (`<lr_erin>`), and timestamps and tokens never appear, so the
// lines of two servers can be compared as text. tests/client/record.sh records the real ObjectStack 17.4
// server's lines into tests/client/<APP>.expected.jsonl; the Rust test node_client::apps_match_the_real_server
// runs this script against objectos and compares.
//
//   OBJECTOS_URL=http://127.0.0.1:3931 APP=hr_leave "$NODE22" tests/client/apps.mjs
//
// The server must serve tests/differential/<APP>/objectstack.json on a FRESH database (the first sign-up
// becomes the platform admin). Env: OBJECTOS_URL, APP (hr_leave | helpdesk), OBJECTOS_CLIENT_DIR (as in
// crud.mjs). A step that throws something other than the SDK's HTTP error ends the run (exit status 1).
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

const cache = process.env.OBJECTOS_CACHE
  ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'objectos');
const clientDir = process.env.OBJECTOS_CLIENT_DIR ?? join(cache, 'node-client');
const baseUrl = process.env.OBJECTOS_URL;
const app = process.env.APP;

let ObjectStackClient;
try {
  ({ ObjectStackClient } = createRequire(join(clientDir, 'noop.js'))('@objectstack/client'));
} catch (e) {
  console.error(`cannot load @objectstack/client from ${clientDir}: ${e.message}\nrun scripts/node-client.sh first`);
  process.exit(1);
}
if (!baseUrl || !app) {
  console.error('set OBJECTOS_URL (a running server) and APP (hr_leave or helpdesk)');
  process.exit(1);
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const newClient = () => new ObjectStackClient({ baseUrl, logger: quiet });

// ---- normalization -------------------------------------------------------------------------------------

const names = new Map(); // id -> the name this script gave it
const remember = (name, id) => {
  if (typeof id !== 'string' || !id) throw new Error(`${name}: no id in the answer`);
  names.set(id, name);
  return id;
};
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
// Keys whose values are server-chosen (ids, stamps, tokens, audit columns): left out of every value.
const DROP = new Set(['id', 'created_at', 'updated_at', 'created_by', 'updated_by', 'owner_id', 'organization_id',
  'token', 'createdAt', 'updatedAt', 'expiresAt', '_version', 'version']);

function mask(v) {
  if (typeof v === 'string') {
    if (names.has(v)) return `<${names.get(v)}>`;
    let s = v;
    for (const [id, name] of names) if (id.length >= 8 && s.includes(id)) s = s.split(id).join(`<${name}>`);
    return ISO.test(s) ? '<datetime>' : s;
  }
  if (Array.isArray(v)) return v.map(mask);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) if (!DROP.has(k)) out[k] = mask(v[k]);
    return out;
  }
  return v;
}

// The SDK's HTTP error: its status and semantic code (and the message, ids masked).
const failure = (e) => ({ status: e.httpStatus ?? e.status ?? null, code: e.code ?? null, message: mask(e.message) });

let steps = 0;
function emit(step, ok, value) {
  steps++;
  console.log(JSON.stringify({ step, ok, value: mask(value) }));
}

// Runs one SDK call; `shape` turns its answer into the value. A thrown SDK error is a step outcome
// (ok: false); anything else (a bug here) ends the run.
async function step(name, call, shape = (r) => r) {
  let r;
  try {
    r = await call();
  } catch (e) {
    if (e && (e.httpStatus !== undefined || e.status !== undefined)) {
      emit(name, false, failure(e));
      return undefined;
    }
    console.error(`step ${name}: ${e?.stack ?? e}`);
    process.exit(1);
  }
  emit(name, true, shape(r));
  return r;
}

// actions.invoke never throws: it answers {success, data} or {success: false, error: message}.
async function action(name, client, object, act, opts) {
  const r = await client.actions.invoke(object, act, opts);
  emit(name, r.success === true, r.success ? { data: r.data ?? null } : { error: r.error });
  return r;
}

// The per-record outcomes of a bulk call: success, index and the error codes (the records' own fields vary).
const bulkResults = (r) => (r.results ?? []).map((x) => ({ success: x.success, index: x.index ?? null,
  codes: (x.errors ?? (x.error ? [x.error] : [])).map((e) => e.code ?? null), name: x.data?.name ?? null }));
const bulk = (r) => ({ ...pick(r, ['success', 'operation', 'total', 'succeeded', 'failed']), results: bulkResults(r) });
const pick = (rec, fields) => Object.fromEntries(fields.map((f) => [f, rec?.[f] ?? null]));
const rows = (fields) => (r) => ({ total: r.total ?? null, records: r.records.map((x) => pick(x, fields)) });
const record = (fields) => (r) => pick(r.record, fields);

// A user made the real server's way (tests/differential/README.md): admin create-user, bind the position to
// its permission set (sys_position_permission_set), give the user the position (sys_user_position), sign in,
// change the temporary password. Every call but create-user goes through the SDK.
async function makeUser(admin, who, { email, name, position, permissionSet }) {
  const temp = 'Temp-Passw0rd!2026';
  const created = await step(`${who}: admin create-user (sdk fetch)`, async () => {
    const res = await admin.fetch(`${baseUrl}/api/v1/auth/admin/create-user`, {
      method: 'POST', body: JSON.stringify({ email, password: temp, name }),
    });
    return res.json();
  }, (r) => ({ email: r.data?.user?.email, mustChangePassword: r.data?.mustChangePassword }));
  remember(`user_${who}`, created.data.user.id);
  const pos = await step(`${who}: find position ${position}`,
    () => admin.data.find('sys_position', { where: { name: position }, fields: ['id', 'name'] }), rows(['name']));
  const set = await step(`${who}: find permission set ${permissionSet}`,
    () => admin.data.find('sys_permission_set', { where: { name: permissionSet }, fields: ['id', 'name'] }),
    rows(['name']));
  remember(`position ${position}`, pos.records[0].id);
  remember(`permission set ${permissionSet}`, set.records[0].id);
  await step(`${who}: bind position to permission set`, () => admin.data.create('sys_position_permission_set',
    { position_id: pos.records[0].id, permission_set_id: set.records[0].id }),
  record(['position_id', 'permission_set_id']));
  await step(`${who}: assign position`, () => admin.data.create('sys_user_position',
    { user_id: created.data.user.id, position }), record(['user_id', 'position']));
  const client = newClient();
  await step(`${who}: auth.login`, () => client.auth.login({ email, password: temp }),
    (r) => ({ email: r.data.user.email, hasToken: typeof r.data.token === 'string' }));
  await step(`${who}: auth.changePassword`, () => client.auth.changePassword({
    currentPassword: temp, newPassword: `${who}-New-Passw0rd!2026`, revokeOtherSessions: false,
  }), (r) => ({ email: r.user?.email ?? null }));
  return client;
}

async function signUpAdmin(email) {
  const admin = newClient();
  await step('connect (discovery)', () => admin.connect(), (d) => ({ data: d.routes?.data, auth: d.routes?.auth }));
  await step('admin: auth.register (first user)', () => admin.auth.register({
    email, password: 'Admin-Passw0rd!2026', name: 'Admin',
  }), (r) => ({ email: r.data.user.email, hasToken: typeof r.data.token === 'string' }));
  return admin;
}

// ---- hr_leave ------------------------------------------------------------------------------------------

async function hrLeave() {
  const admin = await signUpAdmin('admin@hr.test');
  const LR = 'hr_leave_request';

  // metadata
  await step('meta.getItem object hr_leave_request', () => admin.meta.getItem('object', LR), (r) => {
    const item = r.item ?? r;
    return { name: item.name, label: item.label, fields: Object.keys(item.fields ?? {}).sort() };
  });
  await step('meta.getItems action', () => admin.meta.getItems('action'), (r) => {
    const items = Array.isArray(r) ? r : (r.items ?? []);
    return items.map((a) => `${a.objectName ?? ''}.${a.name}:${a.type}`).sort();
  });
  await step('meta.getLegalNextStates status from submitted',
    () => admin.meta.getLegalNextStates(LR, 'status', 'submitted'));
  await step('meta.getLegalNextStates status from cancelled',
    () => admin.meta.getLegalNextStates(LR, 'status', 'cancelled'));

  // bulk: createMany is all or nothing
  const seeded = await step('data.find seeded departments', () => admin.data.find('hr_department',
    { orderBy: ['code'], fields: ['id', 'name', 'code'] }), rows(['name', 'code']));
  remember('dept_eng', seeded.records[0].id);
  await step('data.createMany departments, second fails its format rule', () => admin.data.createMany(
    'hr_department', [{ name: 'Finance', code: 'FIN' }, { name: 'Legal', code: 'leg1' }]));
  await step('data.find departments after the failed createMany', () => admin.data.find('hr_department',
    { orderBy: ['code'], fields: ['code'] }), rows(['code']));
  await step('data.createMany departments', () => admin.data.createMany('hr_department',
    [{ name: 'Finance', code: 'FIN', budget: 120000 }, { name: 'Legal', code: 'LEG' }]),
  (r) => ({ records: (r.records ?? []).map((x) => pick(x, ['name', 'code', 'budget'])) }));
  await step('data.createMany departments, duplicate code', () => admin.data.createMany('hr_department',
    [{ name: 'Finance Two', code: 'FIN' }]));

  // expand
  const erinRow = await step('data.create employee row', () => admin.data.create('hr_employee', {
    full_name: 'Erin Employee', work_email: 'erin@corp.test', phone: '+44 20 7946 0018',
    homepage: 'https://erin.corp.test/about', department: seeded.records[0].id, job_level: 'employee',
    salary: 52000, profile: { languages: ['en', 'pt'], remote: true }, settings_text: '{"theme":"dark"}',
  }), record(['full_name', 'department', 'job_level', 'salary']));
  remember('emp_erin', erinRow.id);
  await step('data.find employees expand department', () => admin.data.find('hr_employee',
    { fields: ['full_name', 'department'], expand: ['department'], orderBy: ['full_name'] }),
  (r) => r.records.map((x) => ({ full_name: x.full_name, department: pick(x.department, ['name', 'code']) })));
  await step('data.query employees expand department (QueryAST)', () => admin.data.query('hr_employee', {
    fields: ['full_name', 'department'], where: { job_level: 'employee' },
    expand: { department: { object: 'hr_department', fields: ['name', 'code'] } },
  }), (r) => r.records.map((x) => ({ full_name: x.full_name, department: pick(x.department, ['name', 'code']) })));
  await step('data.create employee, bad e-mail format', () => admin.data.create('hr_employee',
    { full_name: 'Bad Email', work_email: 'bad-at-corp.test' }));

  // state transitions (state_machine rule, requiredWhen gate)
  const summer = await step('data.create leave request', () => admin.data.create(LR, {
    title: 'Summer holiday', start_date: '2026-07-01', end_date: '2026-07-10', days: 8, leave_type: 'annual',
    reason: 'Family trip to the coast', ref_code: 'LV-0042', details: { handover: 'Notes in the wiki', backup: 'Mark' },
    approvers: ['ana.lead@corp.test', 'hr.bob@corp.test'], employee: erinRow.id,
  }), record(['title', 'status', 'leave_type', 'days', 'employee']));
  remember('lr_summer', summer.id);
  await step('data.create leave request born approved (initial state)', () => admin.data.create(LR,
    { title: 'Born approved', start_date: '2026-07-10', end_date: '2026-07-10', status: 'approved' }));
  await step('data.update draft -> approved (refused)', () => admin.data.update(LR, summer.id, { status: 'approved' }));
  await step('data.update draft -> submitted', () => admin.data.update(LR, summer.id, { status: 'submitted' }),
    record(['status']));
  await step('data.update submitted -> rejected without comment (refused)',
    () => admin.data.update(LR, summer.id, { status: 'rejected' }));
  await step('data.update submitted -> rejected with comment', () => admin.data.update(LR, summer.id,
    { status: 'rejected', manager_comment: 'Team is short-staffed' }), record(['status', 'manager_comment']));
  await step('data.update rejected -> approved (refused)', () => admin.data.update(LR, summer.id, { status: 'approved' }));
  await step('data.update rejected -> draft', () => admin.data.update(LR, summer.id,
    { status: 'draft', manager_comment: null }), record(['status', 'manager_comment']));
  await step('data.get after the transitions', () => admin.data.get(LR, summer.id),
    record(['title', 'status', 'manager_comment', 'leave_type', 'days']));

  // query
  await step('data.query leave requests by status, sorted, projected', () => admin.data.query(LR, {
    where: { status: { $in: ['draft', 'submitted'] } }, orderBy: [{ field: 'title', order: 'asc' }],
    fields: ['title', 'status'],
  }), rows(['title', 'status']));
  await step('data.query count by status (aggregation)', () => admin.data.query(LR, {
    groupBy: ['status'], aggregations: [{ function: 'count', alias: 'n' }], orderBy: [{ field: 'status', order: 'asc' }],
  }), (r) => r.records.map((x) => pick(x, ['status', 'n'])));
  await step('data.query unknown field (refused)', () => admin.data.query(LR, { where: { nosuch: 1 } }));

  // users with positions
  const erin = await makeUser(admin, 'erin', { email: 'erin@corp.test', name: 'Erin Employee',
    position: 'hr_employee', permissionSet: 'hr_employee_access' });
  const mark = await makeUser(admin, 'mark', { email: 'mark@corp.test', name: 'Mark Manager',
    position: 'hr_manager', permissionSet: 'hr_manager_access' });

  // actions
  const mine = await step('erin: data.create leave request', () => erin.data.create(LR, {
    title: 'Lisbon city trip', start_date: '2026-08-03', end_date: '2026-08-05', days: 3,
    reason: 'Visiting friends', employee: erinRow.id,
  }), record(['title', 'status']));
  remember('lr_erin', mine.id);
  await step('erin: data.find own leave requests only', () => erin.data.find(LR,
    { orderBy: ['title'], fields: ['title', 'status'] }), rows(['title', 'status']));
  await action('erin: actions.invoke hr_submit', erin, LR, 'hr_submit', { recordId: mine.id });
  await action('erin: actions.invoke hr_submit again (refused by the body)', erin, LR, 'hr_submit', { recordId: mine.id });
  await action('erin: actions.invoke hr_submit without a record', erin, LR, 'hr_submit', {});
  await action('erin: actions.invoke hr_submit on an unreadable record', erin, LR, 'hr_submit', { recordId: summer.id });
  await action('mark: actions.invoke hr_reject without its required param', mark, LR, 'hr_reject', { recordId: mine.id });
  await action('mark: actions.invoke hr_approve', mark, LR, 'hr_approve',
    { recordId: mine.id, params: { comment: 'Have fun' } });
  await step('erin: data.get after the approval', () => erin.data.get(LR, mine.id),
    record(['title', 'status', 'manager_comment']));
  await action('mark: actions.invoke hr_approve again (refused by the body)', mark, LR, 'hr_approve', { recordId: mine.id });
  await action('erin: actions.invoke hr_cancel', erin, LR, 'hr_cancel', { recordId: mine.id });
  await action('admin: actions.invoke hr_reopen on a cancelled request (state machine)', admin, LR, 'hr_reopen',
    { recordId: mine.id });
  await action('erin: actions.invoke hr_explode (throws)', erin, LR, 'hr_explode', { recordId: mine.id });
  await action('erin: actions.invoke hr_hidden (visible: false)', erin, LR, 'hr_hidden', { recordId: mine.id });
  await action('erin: actions.invoke hr_purge_notes (requiredPermissions)', erin, LR, 'hr_purge_notes',
    { recordId: mine.id });
  await action('erin: actions.invoke hr_open_handbook (url type)', erin, LR, 'hr_open_handbook', { recordId: mine.id });
  await action('erin: actions.invoke an undeclared action', erin, LR, 'hr_teleport', { recordId: mine.id });
  await action('erin: actions.invoke hr_probe', erin, LR, 'hr_probe', { recordId: mine.id });
  await action('admin: actions.invoke hr_promote on hr_employee', admin, 'hr_employee', 'hr_promote',
    { recordId: erinRow.id });
  await step('erin: data.get employee row (salary hidden)', () => erin.data.get('hr_employee', erinRow.id),
    (r) => ({ job_level: r.record.job_level, salary: 'salary' in r.record ? r.record.salary : '<absent>' }));
  await step('erin: data.find leave requests filtered on a hidden field (refused)',
    () => erin.data.find(LR, { where: { hr_notes: 'x' }, fields: ['title'] }));
  await step('admin: data.find final leave requests', () => admin.data.find(LR,
    { orderBy: ['title'], fields: ['title', 'status', 'manager_comment'] }), rows(['title', 'status', 'manager_comment']));
}

// ---- helpdesk ------------------------------------------------------------------------------------------

async function helpdesk() {
  const admin = await signUpAdmin('admin@desk.test');
  const T = 'hd_ticket';

  // metadata
  await step('meta.getItem object hd_ticket', () => admin.meta.getItem('object', T), (r) => {
    const item = r.item ?? r;
    return { name: item.name, label: item.label, fields: Object.keys(item.fields ?? {}).sort() };
  });
  await step('meta.getItem hook hd_ticket_defaults', () => admin.meta.getItem('hook', 'hd_ticket_defaults'), (r) => {
    const item = r.item ?? r;
    return pick(item, ['name', 'object', 'events', 'priority']);
  });
  await step('meta.getItem unknown object', () => admin.meta.getItem('object', 'hd_nothing'));

  // seeds
  const accounts = await step('data.find seeded accounts', () => admin.data.find('hd_account',
    { orderBy: ['name'], fields: ['id', 'name', 'tier', 'seats', 'open_tickets'] }),
  rows(['name', 'tier', 'seats', 'open_tickets']));
  const [globex, hooli, initech] = accounts.records.map((a) => a.id);
  remember('acc_globex', globex); remember('acc_hooli', hooli); remember('acc_initech', initech);
  const contacts = await step('data.find seeded contacts expand account', () => admin.data.find('hd_contact',
    { orderBy: ['last_name'], expand: ['account'] }),
  (r) => r.records.map((x) => ({ last_name: x.last_name, full_name: x.full_name, account: pick(x.account, ['name']) })));
  const [peter, hank] = contacts.records.map((c) => c.id);
  remember('con_peter', peter); remember('con_hank', hank);
  const agents = await step('data.find seeded agents', () => admin.data.find('hd_agent',
    { orderBy: ['name'], fields: ['id', 'name', 'team'] }), rows(['name', 'team']));
  remember('agent_ada', agents.records[0].id);

  // hooks, formulas, defaults
  const t1 = await step('data.create urgent ticket (hooks)', () => admin.data.create(T, {
    subject: '   Printer on fire   ', priority: 'urgent', opened_on: '2026-03-02', account: globex, contact: hank,
    status: 'closed',
  }), record(['number', 'subject', 'status', 'priority', 'due_on', 'escalated', 'account', 'contact']));
  remember('t1', t1.id);
  const t2 = await step('data.create vip ticket (priority bumped)', () => admin.data.create(T, {
    subject: 'VIP cannot log in', tags: ['vip', 'bug'], opened_on: '2026-03-03', channel: 'chat', account: initech,
  }), record(['number', 'priority', 'tags', 'channel', 'due_on']));
  remember('t2', t2.id);
  const t4 = await step('data.create low ticket', () => admin.data.create(T, {
    subject: 'Question about invoice layout', priority: 'low', opened_on: '2026-03-04', channel: 'phone',
    contact: peter, account: hooli,
  }), record(['number', 'priority', 'due_on']));
  remember('t4', t4.id);
  await step('data.create spam ticket (hook refuses)', () => admin.data.create(T,
    { subject: 'Cheap SPAM pills', opened_on: '2026-03-05' }));
  await step('data.create ticket without subject (required)', () => admin.data.create(T, { opened_on: '2026-03-05' }));
  await step('data.get ticket', () => admin.data.get(T, t1.id),
    record(['number', 'subject', 'headline', 'weight', 'is_open', 'status']));
  await step('data.get account after the afterInsert hook', () => admin.data.get('hd_account', globex),
    record(['name', 'open_tickets']));

  // expand and query
  await step('data.find tickets expand account,contact', () => admin.data.find(T,
    { fields: ['number', 'account', 'contact'], expand: ['account', 'contact'], orderBy: ['number'] }),
  (r) => r.records.map((x) => ({ number: x.number, account: pick(x.account, ['name']), contact: pick(x.contact, ['last_name']) })));
  await step('data.query expand lookups', () => admin.data.query(T, {
    fields: ['number', 'account', 'agent'], orderBy: [{ field: 'number', order: 'asc' }],
    expand: { account: { object: 'hd_account', fields: ['name', 'tier'] }, agent: { object: 'hd_agent', fields: ['name', 'team'] } },
  }), (r) => r.records.map((x) => pick(x, ['number', 'account', 'agent'])));
  await step('data.query nested expand', () => admin.data.query(T, {
    fields: ['number', 'contact'], where: { contact: { $null: false } }, orderBy: [{ field: 'number', order: 'asc' }],
    expand: { contact: { object: 'hd_contact', fields: ['last_name', 'account'],
      expand: { account: { object: 'hd_account', fields: ['name', 'domain'] } } } },
  }), (r) => r.records.map((x) => pick(x, ['number', 'contact'])));
  await step('data.query $or with $contains', () => admin.data.query(T, {
    where: { $or: [{ subject: { $contains: 'invoice' } }, { priority: 'urgent' }] }, fields: ['number', 'subject'],
    orderBy: [{ field: 'number', order: 'asc' }],
  }), rows(['number', 'subject']));
  await step('data.query group by priority with aggregations', () => admin.data.query(T, {
    groupBy: ['priority'], orderBy: [{ field: 'priority', order: 'asc' }],
    aggregations: [{ function: 'count', alias: 'n' }, { function: 'sum', field: 'reopen_count', alias: 'reopens' }],
  }), (r) => r.records.map((x) => pick(x, ['priority', 'n', 'reopens'])));
  await step('data.query on a formula field (refused)', () => admin.data.query(T, { where: { weight: { $gt: 30 } } }));
  await step('data.query expand as an array (refused)', () => admin.data.query(T, { expand: ['account'] }));
  await step('data.find with limit and offset', () => admin.data.find(T,
    { orderBy: ['-number'], fields: ['number'], limit: 1, offset: 1 }),
  (r) => ({ records: r.records.map((x) => x.number), total: r.total ?? null, hasMore: r.hasMore ?? null }));

  // state transitions through hooks
  await step('data.update rate an open ticket (refused by the rule)', () => admin.data.update(T, t2.id, { satisfaction: 4 }));
  await step('data.update resolve with a rating', () => admin.data.update(T, t2.id,
    { status: 'resolved', satisfaction: 4 }), (r) => ({ ...record(['status', 'satisfaction', 'reopen_count'])(r), resolved: r.record.resolved_at != null }));
  await step('data.update reopen', () => admin.data.update(T, t2.id, { status: 'open', satisfaction: null }),
    record(['status', 'satisfaction', 'reopen_count', 'resolved_at']));
  await step('data.update close', () => admin.data.update(T, t2.id, { status: 'closed' }), record(['status']));
  await step('data.update a closed ticket (frozen by a hook)', () => admin.data.update(T, t2.id, { subject: 'Changed' }));
  await step('data.delete an open ticket (refused by a hook)', () => admin.data.delete(T, t4.id));
  await step('data.delete a closed ticket', () => admin.data.delete(T, t2.id), (r) => pick(r, ['object', 'success']));
  await step('data.find activity written by hooks', () => admin.data.find('hd_activity',
    { orderBy: ['detail'], fields: ['kind', 'detail'] }), rows(['kind', 'detail']));

  // bulk
  await step('data.createMany contacts', () => admin.data.createMany('hd_contact', [
    { last_name: 'Bolton', email: 'Michael@Initech.test', account: initech }, { first_name: 'Samir', last_name: 'Nagheenanajar' },
  ]), (r) => ({ records: (r.records ?? []).map((x) => pick(x, ['last_name', 'email', 'full_name', 'account'])) }));
  await step('data.createMany contacts, second has no last name', () => admin.data.createMany('hd_contact', [
    { last_name: 'Smykowski', email: 'tom@initech.test' }, { first_name: 'NoLastName' }, { last_name: 'Portwood' },
  ]));
  await step('data.find contacts after the failed createMany', () => admin.data.find('hd_contact',
    { orderBy: ['last_name'], fields: ['last_name', 'email'] }), rows(['last_name', 'email']));
  const batch = await step('data.batch create, continueOnError', () => admin.data.batch('hd_agent', {
    operation: 'create', options: { atomic: false, continueOnError: true },
    records: [{ data: { name: 'Cleo', team: 'tier1', email: 'cleo@desk.test' } },
      { data: { team: 'tier2', email: 'nameless@desk.test' } },
      { data: { name: 'Dmitri', team: 'billing', email: 'dmitri@desk.test' } }],
  }), bulk);
  const cleo = batch?.results?.[0]?.id;
  if (cleo) remember('agent_cleo', cleo);
  await step('data.batch create, atomic, one fails', () => admin.data.batch('hd_agent', {
    operation: 'create', options: { atomic: true },
    records: [{ data: { name: 'Eve', email: 'eve@desk.test' } }, { data: { email: 'x@desk.test' } }],
  }), bulk);
  await step('data.updateMany agents, one unknown id', () => admin.data.updateMany('hd_agent', [
    { id: cleo, data: { capacity: 25 } }, { id: 'no-such-agent', data: { capacity: 2 } },
  ]), bulk);
  await step('data.deleteMany agents, one unknown id', () => admin.data.deleteMany('hd_agent', [cleo, 'no-such-agent']),
    bulk);
  await step('data.find agents after the bulk calls', () => admin.data.find('hd_agent',
    { orderBy: ['name'], fields: ['name', 'team', 'capacity'] }), rows(['name', 'team', 'capacity']));
  await step('data.batchTransaction across objects with $ref', () => admin.data.batchTransaction([
    { object: 'hd_account', action: 'create', data: { name: 'Cyberdyne', domain: 'cyberdyne.test' } },
    { object: 'hd_contact', action: 'create', data: { last_name: 'Dyson', account: { $ref: 0 } } },
  ]), (r) => ({ results: (r.results ?? []).length }));
  await step('data.batchTransaction fails midway (rolled back)', () => admin.data.batchTransaction([
    { object: 'hd_account', action: 'create', data: { name: 'Soylent' } },
    { object: 'hd_contact', action: 'create', data: { first_name: 'NoLastName' } },
  ]));
  await step('data.find accounts after the batches', () => admin.data.find('hd_account',
    { orderBy: ['name'], fields: ['name'] }), rows(['name']));

  // a portal customer sees only their own tickets
  const portal = await makeUser(admin, 'portal', { email: 'hank@globex.test', name: 'Hank Scorpio',
    position: 'hd_portal_pos', permissionSet: 'hd_portal_access' });
  await step('portal: data.find tickets (none of their own)', () => portal.data.find(T, { fields: ['number'] }),
    rows(['number']));
  const t8 = await step('portal: data.create ticket', () => portal.data.create(T, {
    subject: 'Portal: invoices missing', priority: 'high', opened_on: '2026-03-08', account: globex,
  }), record(['number', 'subject', 'status', 'priority']));
  if (t8) remember('t8', t8.id);
  await step('portal: data.create with a field it cannot edit (refused)', () => portal.data.create(T,
    { subject: 'Portal: sneaky', internal_notes: 'let me in', opened_on: '2026-03-08' }));
  await step('portal: data.get another ticket (hidden)', () => portal.data.get(T, t1.id));
  await step('portal: data.find agents (beforeFind hook refuses)', () => portal.data.find('hd_agent', {}));
  await step('portal: data.query count of own tickets', () => portal.data.query(T,
    { aggregations: [{ function: 'count', alias: 'n' }] }), (r) => r.records.map((x) => pick(x, ['n'])));
}

const apps = { hr_leave: hrLeave, helpdesk };
if (!apps[app]) {
  console.error(`unknown APP ${app}: one of ${Object.keys(apps).join(', ')}`);
  process.exit(1);
}
await apps[app]();
console.error(`apps.mjs ${app}: ${steps} steps`);
