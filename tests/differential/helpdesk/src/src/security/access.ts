import { definePermissionSet } from '@objectstack/spec/security';
import { definePosition } from '@objectstack/spec/identity';

/*
 * Positions are bound to permission sets at run time (sys_position_permission_set):
 * hd_agent_pos -> hd_agent_access, hd_portal_pos -> hd_portal_access.
 */
export const helpdeskPositions = [
  definePosition({ name: 'hd_agent_pos', label: 'Support Agent', description: 'Works every ticket.' }),
  definePosition({ name: 'hd_portal_pos', label: 'Portal Customer', description: 'Raises and follows their own tickets.' }),
];

/** Agents: every ticket, comments, read-only customers and SLA policies. */
export const AgentAccess = definePermissionSet({
  name: 'hd_agent_access',
  label: 'Helpdesk Agent',
  description: 'Work all tickets and comments; read accounts, contacts, agents and SLA policies.',
  objects: {
    hd_ticket: { allowCreate: true, allowRead: true, allowEdit: true, viewAllRecords: true, modifyAllRecords: true },
    hd_comment: { allowCreate: true, allowRead: true, allowEdit: true },
    hd_account: { allowRead: true },
    hd_contact: { allowRead: true, allowCreate: true, allowEdit: true },
    hd_agent: { allowRead: true },
    hd_sla_policy: { allowRead: true },
    hd_activity: { allowRead: true, allowCreate: true },
  },
  fields: {
    'hd_ticket.satisfaction': { readable: true, editable: false },
  },
});

/** Portal customers: their own tickets only, no internal notes, no agent assignment. */
export const PortalAccess = definePermissionSet({
  name: 'hd_portal_access',
  label: 'Helpdesk Portal Customer',
  description: 'Raise tickets, read and comment on their own tickets.',
  objects: {
    hd_ticket: { allowCreate: true, allowRead: true, allowEdit: true },
    hd_comment: { allowCreate: true, allowRead: true },
    hd_sla_policy: { allowRead: true },
    hd_agent: { allowRead: true },
  },
  fields: {
    'hd_ticket.internal_notes': { readable: false, editable: false },
    'hd_ticket.agent': { readable: true, editable: false },
    'hd_ticket.escalated': { readable: true, editable: false },
  },
  rowLevelSecurity: [
    {
      name: 'hd_portal_public_comments',
      object: 'hd_comment',
      operation: 'select',
      using: 'is_internal == false',
    },
  ],
});

export const helpdeskPermissionSets = [AgentAccess, PortalAccess];
