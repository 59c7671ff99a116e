export * from './reaper-crds';
export * from './structural-schema';
export * from './types';
