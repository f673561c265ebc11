package codec

import (
	"fmt"
	"strconv"
	"strings"
)

// Compression is a compression algorithm for stored values. The zero value,
// None, stores values uncompressed. The numeric values are written into
// compressed frames and never change.
//
// Each algorithm runs at a fixed level chosen to be fast while still
// compressing well (see each constant); encoders and decoders are pooled
// and safe for concurrent use.
type Compression uint8

const (
	// None stores values as the codec wrote them.
	None Compression = iota
	// Gzip is RFC 1952 gzip (github.com/klauspost/compress/gzip) at level 5.
	Gzip
	// Deflate is raw RFC 1951 deflate (github.com/klauspost/compress/flate)
	// at level 5.
	Deflate
	// Brotli is github.com/andybalholm/brotli at quality 4, with a window of
	// at most 1 MiB (larger windows are refused when reading).
	Brotli
	// Zstd is Zstandard (github.com/klauspost/compress/zstd) at its default
	// level (about zstd level 3), one frame per value with a checksum.
	Zstd
	// S2 is the S2 block format (github.com/klauspost/compress/s2), a faster
	// Snappy extension, at its default level. The fastest choice.
	S2

	numCompressions = iota
)

var compressionNames = [numCompressions]string{"none", "gzip", "deflate", "brotli", "zstd", "s2"}

// String returns the algorithm's name: "none", "gzip", "deflate", "brotli",
// "zstd" or "s2", and "compression(N)" for an unknown value.
func (c Compression) String() string {
	if c < numCompressions {
		return compressionNames[c]
	}
	return "compression(" + strconv.Itoa(int(c)) + ")"
}

// ParseCompression returns the algorithm named s, as written by String, in
// any case. The empty string, "off" and "false" mean None; "br" means
// Brotli and "zstandard" means Zstd.
func ParseCompression(s string) (Compression, error) {
	switch n := strings.ToLower(strings.TrimSpace(s)); n {
	case "", "off", "false":
		return None, nil
	case "br":
		return Brotli, nil
	case "zstandard":
		return Zstd, nil
	default:
		for i, name := range compressionNames {
			if n == name {
				return Compression(i), nil
			}
		}
	}
	return None, fmt.Errorf("codec: unknown compression %q (want none, gzip, deflate, brotli, zstd or s2)", s)
}

// MarshalText implements encoding.TextMarshaler with the algorithm's name,
// so a Compression reads well in JSON or YAML configuration.
func (c Compression) MarshalText() ([]byte, error) {
	if c >= numCompressions {
		return nil, fmt.Errorf("codec: unknown compression %d", uint8(c))
	}
	return []byte(compressionNames[c]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseCompression.
func (c *Compression) UnmarshalText(text []byte) error {
	v, err := ParseCompression(string(text))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
