export {
  APP_EXTRA_PROGRAMS,
  APP_IMAGE,
  APP_IMAGE_TAG,
  appImageRepository,
  IMAGE_APPS,
  type ImageApp,
  REDIS_IMAGE,
} from './app-image-contents';
export {
  type BuildAppImagesOptions,
  buildAppImages,
  type ImageFile,
  stageProductionDeps,
} from './app-images';
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
  type CompressedLayer,
  compressedLayer,
  type ImageRuntimeConfig,
  type ImageSpec,
  type LayerInfo,
  layerEntries,
  type ManifestDescriptor,
  type OciImage,
  ociImage,
  ociMultiImageArchive,
  tagOf,
} from './oci';
export { normalizeReference } from './reference';
export { normalizedMode, parseLdd, programEntries } from './runtime-files';
export { ROOT_OWNER, type TarEntry, TarEntryError, type TarOwner, tarArchive } from './tar';
