export {
  type MapperCaches,
  type Mapping,
  mapChange,
  type OverlayResetRequest,
  type ReconcileKey,
  type WatchedChange,
  type WatchedKind,
} from './mapper';
export { MANAGED_BY_SELECTOR, WATCHED } from './pipeline';
export { projectNode, toWorldObject, type WatchedObject, withoutManagedFields } from './projection';
export { startWatcher, type Watcher, type WatcherOptions } from './watcher';
