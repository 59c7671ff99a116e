// `npm run images`: builds the app images and the Redis image into the image cache dir
// (~/.cache/reaper-flow/images, or $REAPER_FLOW_CACHE/images) and prints each one's reference,
// digest and sizes.
import { buildAppImages } from './app-images';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const log = (msg: string) => process.stderr.write(`[images] ${msg}\n`);

const t0 = performance.now();
const { images, allInOne } = await buildAppImages({ log });
for (const image of images) {
  process.stdout.write(
    `${image.name}\n  ${image.path}\n  ${image.manifestDigest}  compressed ${mib(image.compressedSize)}, uncompressed ${mib(image.uncompressedSize)}\n`,
  );
}
process.stdout.write(`all of them in one tarball (what real nodes import): ${allInOne}\n`);
log(`${images.length} images in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
