// Package codec turns the typed values of redkit's structures (caches,
// collections, queues, topics, streams, sessions) into the bytes stored in
// Redis, and back.
//
// A [Format] names a [Codec] ([JSON] by default, [MsgPack] or [Protobuf])
// and an optional [Compression]; [Encode] and [Decode] apply it:
//
//	f := codec.Format{Codec: codec.MsgPack, Compression: codec.Zstd}
//	b, err := codec.Encode(f, user)          // []byte for SET
//	u, err := codec.Decode[User](f, reply)   // errors wrap ErrDecode
//
// # Stored layout
//
// Values are stored so that other languages' clients can read them:
//
//   - a string or []byte value (T itself, or a named type of either with no
//     marshalling methods) is stored as its raw bytes, without quotes;
//   - any other value is stored as the codec's encoding, as is: JSON text,
//     a MessagePack value or a protobuf message;
//   - a compressed value is a frame: the 4 bytes 0xFF 'R' 'K' 'z'
//     ([Marker]), one byte naming the algorithm (1 gzip, 2 raw deflate,
//     3 brotli, 4 zstd, 5 S2 block), then the algorithm's own format of the
//     bytes above. Byte 0 marks a "stored" frame, used only for the rare raw
//     value that itself begins with the marker.
//
// Values are compressed only when [Format.Compression] is set, they are at
// least [Format.CompressMin] bytes long ([DefaultCompressMin] by default),
// and compressing makes them smaller; everything else carries no marker.
// 0xFF never occurs in UTF-8 or JSON text, and no MessagePack or protobuf
// encoding begins with the marker, so a reader can always tell the two
// apart. [Decode] therefore reads frames whatever compression the reader is
// configured with: compression can be turned on, off or changed on a live
// system, and values already stored stay readable.
//
// # Determinism
//
// Encoding is deterministic for each codec: the same value of the same
// type always gives the same bytes (map keys are sorted, protobuf uses
// deterministic marshalling), as sets, sorted sets and list removal need.
// The compressors are deterministic too, so compressed values compare
// equal as well, as long as every writer uses the same Format.
//
// # Untrusted input
//
// Bytes that are not a valid encoding (written by another program,
// truncated, corrupt or hostile) make Decode return an error wrapping
// [ErrDecode] that names the codec or algorithm; Decode never panics on
// them. Decompressed sizes are capped by [MaxDecodedSize], and declared
// sizes (zstd frame sizes, S2 lengths, MessagePack container lengths) are
// checked against the input before anything is allocated for them, so a
// few hostile bytes cannot cost more than a small multiple of their size.
// Gzip and zstd frames carry a checksum; S2, deflate and brotli frames, like
// uncompressed values, are not integrity-checked.
//
// # What it leaves out
//
// No schema evolution or versioning beyond what each codec offers, no
// encryption, no per-value compression levels or dictionaries, and no
// streaming: a value is encoded and decoded whole, in memory. Protobuf
// values must be generated message types; JSON strings must be valid UTF-8
// (encoding/json replaces invalid bytes).
package codec
