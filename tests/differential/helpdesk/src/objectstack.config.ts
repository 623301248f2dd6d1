// Helpdesk: a support desk used by the differential suite.
//
// Customers (accounts, contacts) raise tickets; a ticket's due date comes from
// the SLA policy of its priority; comments hang off tickets (master-detail);
// hooks keep an activity log and counters through ctx.api; agents see every
// ticket, portal customers only their own.
import { defineStack } from '@objectstack/spec';
import { HdAccount, HdContact, HdSlaPolicy, HdAgent, HdTicket, HdComment, HdActivity } from './src/objects/index.js';
import { helpdeskHooks } from './src/logic/hooks.js';
import { helpdeskPositions, helpdeskPermissionSets } from './src/security/access.js';
import { helpdeskSeed } from './src/data/seed.js';

export default defineStack({
  manifest: {
    id: 'com.difftest.helpdesk',
    namespace: 'hd',
    version: '0.1.0',
    type: 'app',
    name: 'Helpdesk',
    description: 'Accounts, contacts, tickets with SLA due dates, comments, agents and an activity log.',
    engines: { protocol: '^17' },
  },
  requires: ['automation'],
  plugins: [],
  objects: [HdAccount, HdContact, HdSlaPolicy, HdAgent, HdTicket, HdComment, HdActivity],
  hooks: helpdeskHooks,
  positions: helpdeskPositions,
  permissions: helpdeskPermissionSets,
  data: helpdeskSeed,
});
