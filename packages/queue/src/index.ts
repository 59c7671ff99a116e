export * from './names';
export * from './reconcile-queue';
export * from './redis';
export * from './world-store';
