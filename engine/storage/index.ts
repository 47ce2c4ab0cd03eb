// The storage layer: disk images (raw, qcow2 with backing chains) behind one block-device interface.
export { DiskError, type BlockDevice, type DiskFormat, type Extent } from './block-device.ts';
export { openDisk, createQcow2, resolveBacking, type OpenOptions, type CreateQcow2Options } from './open.ts';
export { createRaw } from './raw.ts';
export { convertDisk, type ConvertOptions } from './convert.ts';
export { diskInfo, checkDisk, type DiskInfo, type DiskCheck } from './info.ts';
export { ownExtents, mergeBackingInto, mergeGrowth, setBackingFile } from './overlay.ts';
