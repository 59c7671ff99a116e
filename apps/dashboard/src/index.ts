export { authorize, BASIC_CHALLENGE, type DashboardCredentials, secretEquals } from './auth';
export {
  type Dashboard,
  DashboardConfigError,
  type DashboardOptions,
  dashboardCredentials,
  PROXIED_AUTH_HEADER,
  startDashboard,
} from './dashboard';
export { fixedQueueNames, scanOverlayNodes } from './queue-discovery';
