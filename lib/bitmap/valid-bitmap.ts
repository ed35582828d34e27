// Valid bitmaps: bit i set when manifest row i's object was found on the endpoint. Roaring,
// serialised in the portable format so other roaring implementations (Java, Go, CRoaring) read
// them. WASM memory never shrinks, so every bitmap is disposed as soon as it is done with.
import { RoaringBitmap32, roaringLibraryInitialize } from "roaring-wasm";

let ready: Promise<void> | undefined;

/** Loads the WASM module once per process. */
export function bitmapsReady(): Promise<void> {
  ready ??= roaringLibraryInitialize();
  return ready;
}

export function newBitmap(): RoaringBitmap32 {
  return new RoaringBitmap32();
}

export function serializeBitmap(b: RoaringBitmap32): Uint8Array {
  return b.serialize("portable");
}

export function deserializeBitmap(bytes: Uint8Array): RoaringBitmap32 {
  return RoaringBitmap32.deserialize("portable", bytes);
}

/** Runs `use` with a bitmap and disposes it afterwards, whatever happens. */
export async function withBitmap<T>(
  b: RoaringBitmap32,
  use: (b: RoaringBitmap32) => Promise<T> | T,
): Promise<T> {
  try {
    return await use(b);
  } finally {
    b.dispose();
  }
}

export type { RoaringBitmap32 };
