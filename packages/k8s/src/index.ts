export * from './client';
export * from './errors';
export * from './event-recorder';
export * from './finalizers';
export * from './informer';
export * from './leader-election';
export * from './resources';
export * from './status';
