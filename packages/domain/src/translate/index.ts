export * from './desired-pod';
export * from './desired-reaper-pod';
export * from './labels';
export * from './pod-status';
