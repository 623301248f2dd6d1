import { definePermissionSet } from '@objectstack/spec/security';
import { defineSharingRule } from '@objectstack/spec/security';
import { definePosition } from '@objectstack/spec/identity';

/**
 * Positions. The binding position -> permission set is a runtime row
 * (sys_position_permission_set) that the scenario creates:
 *   hr_employee -> hr_employee_access, hr_manager -> hr_manager_access.
 */
export const hrPositions = [
  definePosition({ name: 'hr_employee', label: 'HR: Employee', description: 'Files leave requests.' }),
  definePosition({ name: 'hr_manager', label: 'HR: Manager', description: 'Approves or rejects leave requests.' }),
  definePosition({ name: 'hr_officer', label: 'HR: Officer', description: 'Keeps HR notes on leave requests.' }),
];

/** Employees: their own leave requests; no HR notes, no salaries, no status writes. */
export const EmployeeAccess = definePermissionSet({
  name: 'hr_employee_access',
  label: 'HR Employee',
  description: 'File and edit your own leave requests; read the directory.',
  objects: {
    hr_leave_request: { allowCreate: true, allowRead: true, allowEdit: true, allowDelete: true },
    hr_employee: { allowRead: true },
    hr_department: { allowRead: true },
    hr_leave_type: { allowRead: true },
  },
  fields: {
    'hr_leave_request.hr_notes': { readable: false, editable: false },
    'hr_leave_request.status': { readable: true, editable: false },
    'hr_leave_request.manager_comment': { readable: true, editable: false },
    'hr_employee.salary': { readable: false, editable: false },
  },
});

/**
 * Managers: every non-draft leave request (RLS), read-only HR notes, salaries
 * readable but not editable.
 */
export const ManagerAccess = definePermissionSet({
  name: 'hr_manager_access',
  label: 'HR Manager',
  description: 'Review the leave requests of the team.',
  objects: {
    hr_leave_request: { allowCreate: true, allowRead: true, allowEdit: true, readScope: 'org', writeScope: 'org' },
    hr_employee: { allowRead: true, allowEdit: true },
    hr_department: { allowRead: true },
    hr_leave_type: { allowRead: true },
  },
  fields: {
    'hr_leave_request.hr_notes': { readable: true, editable: false },
    'hr_employee.salary': { readable: true, editable: false },
  },
  rowLevelSecurity: [
    {
      name: 'hr_manager_no_drafts',
      object: 'hr_leave_request',
      operation: 'select',
      using: "status != 'draft'",
    },
  ],
});

export const hrPermissionSets = [EmployeeAccess, ManagerAccess];

/**
 * Criteria sharing: every approved leave request is readable by every holder
 * of the hr_employee position (the team calendar).
 */
export const hrSharingRules = [
  defineSharingRule({
    name: 'hr_share_approved_with_employees',
    label: 'Approved leave is visible to all employees',
    object: 'hr_leave_request',
    type: 'criteria',
    condition: 'record.status == "approved"',
    accessLevel: 'read',
    sharedWith: { type: 'position', value: 'hr_employee' },
  }),
];
