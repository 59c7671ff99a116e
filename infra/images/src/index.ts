export { hostFile, isStaticElf } from './host-files';
export {
  BUSYBOX,
  type BuiltImage,
  buildNodeImages,
  imageCacheDir,
  PAUSE_IMAGE,
  PLACEHOLDER_IMAGE_REF,
  pauseImage,
} from './node-images';
export {
  type ImageRuntimeConfig,
  type ImageSpec,
  type LayerInfo,
  layerEntries,
  type OciImage,
  ociImage,
  tagOf,
} from './oci';
export { normalizeReference } from './reference';
export { ROOT_OWNER, type TarEntry, TarEntryError, type TarOwner, tarArchive } from './tar';
