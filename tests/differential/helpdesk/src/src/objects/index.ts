export { HdAccount } from './account.js';
export { HdContact } from './contact.js';
export { HdSlaPolicy } from './sla-policy.js';
export { HdAgent } from './agent.js';
export { HdTicket } from './ticket.js';
export { HdComment } from './comment.js';
export { HdActivity } from './activity.js';
