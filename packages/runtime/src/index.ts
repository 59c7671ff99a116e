export * from './config';
export * from './config-schema';
export * from './kube-client';
export * from './live-config';
export * from './logger';
export * from './metrics';
export * from './ops-server';
export * from './redis-health-report';
