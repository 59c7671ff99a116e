export * from './daemon-job-store';
export * from './names';
export * from './overlay-jobs';
export * from './reconcile-queue';
export * from './redis';
export * from './run-flows';
export * from './run-slots';
export * from './world-store';
