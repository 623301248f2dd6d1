import { defineSeed } from '@objectstack/spec/data';
import { HdSlaPolicy } from '../objects/sla-policy.js';
import { HdAccount } from '../objects/account.js';
import { HdContact } from '../objects/contact.js';
import { HdAgent } from '../objects/agent.js';

const slaPolicies = defineSeed(HdSlaPolicy, {
  mode: 'upsert',
  externalId: 'name',
  records: [
    { name: 'Low', priority: 'low', response_hours: 48, resolve_days: 10 },
    { name: 'Normal', priority: 'normal', response_hours: 24, resolve_days: 5 },
    { name: 'High', priority: 'high', response_hours: 8, resolve_days: 2 },
    { name: 'Urgent', priority: 'urgent', response_hours: 1, resolve_days: 1 },
  ],
});

const accounts = defineSeed(HdAccount, {
  mode: 'upsert',
  externalId: 'name',
  records: [
    { name: 'Globex', tier: 'enterprise', domain: 'globex.test', seats: 250 },
    { name: 'Initech', tier: 'premium', domain: 'initech.test', seats: 40 },
    { name: 'Hooli', domain: 'hooli.test' },
  ],
});

const contacts = defineSeed(HdContact, {
  mode: 'upsert',
  externalId: 'email',
  records: [
    { first_name: 'Hank', last_name: 'Scorpio', email: 'hank@globex.test', account: 'Globex', vip: true },
    { first_name: 'Peter', last_name: 'Gibbons', email: 'peter@initech.test', account: 'Initech' },
  ],
});

const agents = defineSeed(HdAgent, {
  mode: 'upsert',
  externalId: 'name',
  records: [
    { name: 'Ada', email: 'ada@desk.test', team: 'tier2', capacity: 12 },
    { name: 'Brian', email: 'brian@desk.test', team: 'billing' },
  ],
});

export const helpdeskSeed = [slaPolicies, accounts, contacts, agents];
