// The protocol package runs in browsers and Node alike, so it sees neither DOM nor Node types.
// These are the only two platform globals it uses; both runtimes provide them.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
