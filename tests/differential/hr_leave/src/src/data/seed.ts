import { defineSeed } from '@objectstack/spec/data';
import { HrDepartment } from '../objects/department.js';
import { HrLeaveType } from '../objects/leave-type.js';

/** Two departments and four leave types, so a fresh environment is usable. */
const departments = defineSeed(HrDepartment, {
  mode: 'upsert',
  externalId: 'code',
  records: [
    { name: 'Engineering', code: 'ENG', budget: 250000 },
    { name: 'People Operations', code: 'PEO', budget: 90000 },
  ],
});

const leaveTypes = defineSeed(HrLeaveType, {
  mode: 'upsert',
  externalId: 'code',
  records: [
    { name: 'Annual Leave', code: 'annual', max_days: 25, paid: true, requires_document: false },
    { name: 'Sick Leave', code: 'sick', max_days: 30, paid: true, requires_document: true },
    { name: 'Unpaid Leave', code: 'unpaid', max_days: 10, paid: false, requires_document: false },
    { name: 'Study Leave', code: 'study', max_days: 5, paid: true, requires_document: false },
  ],
});

export const hrSeed = [departments, leaveTypes];
