export { HrDepartment } from './department.js';
export { HrEmployee } from './employee.js';
export { HrLeaveType } from './leave-type.js';
export { HrLeaveRequest } from './leave-request.js';
