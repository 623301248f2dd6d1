// HR leave — an app for the objectos differential suite.
//
// Employees file leave requests that move through a state machine
// (draft -> submitted -> approved/rejected -> cancelled …); managers approve
// or reject them through actions. The app exercises every validation rule
// type of spec 17 (state_machine, script, cross_field, format, json_schema,
// conditional), field-level security, an RLS policy, a criteria sharing rule,
// and actions whose visible/disabled predicates use the CEL macros.
import { defineStack } from '@objectstack/spec';
import { HrDepartment, HrEmployee, HrLeaveType, HrLeaveRequest } from './src/objects/index.js';
import { hrActions } from './src/logic/actions.js';
import { hrPositions, hrPermissionSets, hrSharingRules } from './src/security/access.js';
import { hrSeed } from './src/data/seed.js';

export default defineStack({
  manifest: {
    id: 'com.difftest.hr-leave',
    namespace: 'hr',
    version: '0.1.0',
    type: 'app',
    name: 'HR Leave',
    description: 'Employees, departments, leave types and leave requests with an approval state machine.',
    engines: { protocol: '^17' },
  },
  requires: ['automation'],
  plugins: [],
  objects: [HrDepartment, HrEmployee, HrLeaveType, HrLeaveRequest],
  actions: hrActions,
  positions: hrPositions,
  permissions: hrPermissionSets,
  sharingRules: hrSharingRules,
  data: hrSeed,
});
