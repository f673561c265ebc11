package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Levels: fast settings that still compress well; see the Compression
// constants.
const (
	gzipLevel     = 5
	deflateLevel  = 5
	brotliQuality = 4
	// brotliMaxWindowBits bounds the brotli window (1 MiB), written and
	// accepted: the decoder's ring buffer follows the window a stream
	// declares, so without it 20 bytes of garbage could cost 16 MiB.
	brotliMaxWindowBits = 20
	// brotliBigInput is the input size from which a brotli writer
	// compresses with another match finder (see compress).
	brotliBigInput = 1 << 20
)

var (
	errTooLarge  = errors.New("decompressed size exceeds MaxDecodedSize")
	errTruncated = errors.New("truncated input")
	errCorrupt   = errors.New("corrupt input")
)

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// A streamWriter is a pooled gzip, flate or brotli writer with its sink.
type streamWriter struct {
	aw appendWriter
	w  interface {
		io.WriteCloser
		Reset(io.Writer)
	}
}

var (
	gzipWriters = sync.Pool{New: func() any {
		s := &streamWriter{}
		w, _ := gzip.NewWriterLevel(&s.aw, gzipLevel) // the level is valid
		s.w = w
		return s
	}}
	deflateWriters = sync.Pool{New: func() any {
		s := &streamWriter{}
		w, _ := flate.NewWriter(&s.aw, deflateLevel) // the level is valid
		s.w = w
		return s
	}}
	brotliWriters = sync.Pool{New: func() any {
		s := &streamWriter{}
		s.w = brotli.NewWriterOptions(&s.aw, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliMaxWindowBits})
		return s
	}}
)

// A streamReader is a pooled gzip, flate or brotli reader with its source.
type streamReader struct {
	br bytes.Reader
	r  io.Reader
}

var (
	gzipReaders    sync.Pool // *streamReader with a *gzip.Reader
	deflateReaders sync.Pool // *streamReader with a flate reader
	brotliReaders  sync.Pool // *streamReader with a *brotli.Reader
)

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
	zstdErr  error
)

// zstdCoders creates the shared zstd encoder and decoder on first use.
// EncodeAll and DecodeAll are safe for concurrent use and start no
// goroutines.
func zstdCoders() (*zstd.Encoder, *zstd.Decoder, error) {
	zstdOnce.Do(func() {
		zstdEnc, zstdErr = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(0),
			zstd.WithLowerEncoderMem(true),
		)
		if zstdErr != nil {
			return
		}
		zstdDec, zstdErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderLowmem(true),
			// DecodeAll stays within cap(dst): decompressZstd sets the
			// budget per call.
			zstd.WithDecodeAllCapLimit(true),
		)
	})
	return zstdEnc, zstdDec, zstdErr
}

// compressedCap is the capacity to reserve for compressing n bytes: S2's
// exact worst case (it writes into a slice and cannot grow one), a guess
// for the others.
func compressedCap(c Compression, n int) int {
	if c == S2 {
		if m := s2.MaxEncodedLen(n); m > 0 {
			return m
		}
	}
	return n/2 + 64
}

// compress appends the compressed form of src to dst.
func compress(c Compression, dst, src []byte) ([]byte, error) {
	var pool *sync.Pool
	switch c {
	case Gzip:
		pool = &gzipWriters
	case Deflate:
		pool = &deflateWriters
	case Brotli:
		pool = &brotliWriters
	case Zstd:
		enc, _, err := zstdCoders()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(src, dst), nil
	case S2:
		n := s2.MaxEncodedLen(len(src))
		if n < 0 {
			return nil, s2.ErrTooLarge
		}
		dst = slices.Grow(dst, n)
		out := s2.Encode(dst[len(dst):len(dst)+n], src)
		return dst[:len(dst)+len(out)], nil
	default:
		return nil, fmt.Errorf("unknown compression %d", uint8(c))
	}
	// A brotli writer picks its match finder from the size of the first
	// input it compresses (from 1 MiB on, another one) and keeps it across
	// Reset (andybalholm/brotli v1.2.8, hasherSetup): so that the output
	// depends on the input only, pooled brotli writers only ever see
	// inputs below 1 MiB, and a larger one gets a writer of its own.
	var s *streamWriter
	own := c == Brotli && len(src) >= brotliBigInput
	if own {
		s = brotliWriters.New().(*streamWriter)
	} else {
		s = pool.Get().(*streamWriter)
	}
	s.aw.b = dst
	s.w.Reset(&s.aw)
	_, err := s.w.Write(src)
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	out := s.aw.b
	s.aw.b = nil
	if !own {
		pool.Put(s)
	}
	return out, err
}

// decompress returns the decompressed form of src in a new slice of at
// most limit bytes. Memory grows with what src holds, not with a size it
// merely declares: a declared size is trusted only as far as a valid input
// of src's length could reach, or after the input is checked.
func decompress(c Compression, src []byte, limit int) ([]byte, error) {
	switch c {
	case Gzip:
		// The trailer holds the size mod 2^32: a hint, trusted only up to
		// deflate's maximum ratio of 1032:1.
		hint := 0
		if len(src) >= 18 {
			hint = int(min(uint64(binary.LittleEndian.Uint32(src[len(src)-4:])), 1032*uint64(len(src))))
		}
		return readStream(&gzipReaders, src, hint, limit, func(s *streamReader) error {
			if s.r == nil {
				s.r = new(gzip.Reader)
			}
			zr := s.r.(*gzip.Reader)
			if err := zr.Reset(&s.br); err != nil {
				return err
			}
			zr.Multistream(false)
			return nil
		})
	case Deflate:
		return readStream(&deflateReaders, src, 8*len(src), limit, func(s *streamReader) error {
			if s.r == nil {
				s.r = flate.NewReader(&s.br)
				return nil
			}
			return s.r.(flate.Resetter).Reset(&s.br, nil)
		})
	case Brotli:
		if bits, ok := brotliWindowBits(src); !ok || bits > brotliMaxWindowBits {
			return nil, errors.New("window too large or invalid")
		}
		return readStream(&brotliReaders, src, 8*len(src), limit, func(s *streamReader) error {
			if s.r == nil {
				s.r = brotli.NewReader(&s.br)
				return nil
			}
			return s.r.(*brotli.Reader).Reset(&s.br)
		})
	case Zstd:
		return decompressZstd(src, limit)
	case S2:
		n, err := s2.DecodedLen(src)
		if err != nil {
			return nil, err
		}
		if n > limit {
			return nil, errTooLarge
		}
		// s2.Decode allocates the declared length before it reads a byte
		// of the block, and S2 repeats expand 5 bytes to 16 MiB, so no
		// ratio bounds a valid block: a length out of proportion to src
		// is proven by checkS2 first (TestHostileFrameSizes: 6 bytes that
		// declare 32 MiB). Typical values, well under the ratio, skip it.
		if n > max(64<<10, s2TrustedRatio*len(src)) {
			if err := checkS2(src, n); err != nil {
				return nil, err
			}
		}
		return s2.Decode(make([]byte, n), src)
	}
	return nil, fmt.Errorf("unknown compression %d", uint8(c))
}

// readStream resets a pooled reader over src with reset and reads it all.
func readStream(pool *sync.Pool, src []byte, hint, limit int, reset func(*streamReader) error) ([]byte, error) {
	s, _ := pool.Get().(*streamReader)
	if s == nil {
		s = new(streamReader)
	}
	s.br.Reset(src)
	var out []byte
	err := reset(s)
	if err == nil {
		out, err = readAll(s.r, hint, limit)
	}
	s.br.Reset(nil)
	if s.r != nil {
		pool.Put(s)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return out, err
}

// readAll reads r to EOF into a new slice, failing with errTooLarge past
// limit bytes. hint is the expected size; memory grows only with what r
// actually produces.
func readAll(r io.Reader, hint, limit int) ([]byte, error) {
	hint = max(min(hint, limit)+1, 512)
	b := make([]byte, 0, hint)
	for {
		if len(b) == cap(b) {
			if len(b) > limit {
				return nil, errTooLarge
			}
			b = slices.Grow(b, min(cap(b), limit+1-len(b)))
		}
		n, err := r.Read(b[len(b):min(cap(b), limit+1)])
		b = b[:len(b)+n]
		if len(b) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// brotliWindowBits decodes the window size (WBITS) at the start of a brotli
// stream (RFC 7932, section 9.1).
func brotliWindowBits(src []byte) (int, bool) {
	if len(src) == 0 {
		return 0, false
	}
	b := src[0]
	if b&1 == 0 {
		return 16, true
	}
	if n := b >> 1 & 7; n != 0 {
		return 17 + int(n), true
	}
	switch m := b >> 4 & 7; m {
	case 0:
		return 17, true
	case 1:
		return 0, false // large-window brotli, not produced here
	default:
		return 8 + int(m), true
	}
}

// zstdMaxBlock is the largest block a zstd frame may hold.
const zstdMaxBlock = 128 << 10

// decompressZstd decodes a zstd value into a new slice of at most limit
// bytes. The library does the bounding: with WithDecodeAllCapLimit,
// DecodeAll decodes no more than cap(dst) and refuses a frame whose
// declared content size does not fit before allocating for it, so the
// buffer passed here is the whole budget, set per call (MaxDecodedSize may
// change; WithDecoderMaxMemory is fixed per decoder).
//
// The buffer is the frame's content size when it declares one, else it
// starts small and grows 4x at a time. Either way it never exceeds what src
// could hold: a block that produces anything takes at least 4 bytes (3 of
// header, 1 of content, as in an RLE block) and produces at most 128 KiB.
// That bound is the one check the library lacks: a 13-byte frame that
// declares 100 MB would otherwise cost 100 MB (TestHostileFrameSizes).
func decompressZstd(src []byte, limit int) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return nil, err
	}
	limit = max(limit, 0)
	bound := int(min(uint64(limit), uint64(len(src))*zstdMaxBlock/4))
	size := min(bound, 256) // the encoder omits the size of values under 256 bytes
	if h.HasFCS {
		switch {
		case h.FrameContentSize > uint64(limit):
			return nil, errTooLarge
		case h.FrameContentSize > uint64(bound):
			return nil, errCorrupt
		}
		size = int(h.FrameContentSize)
	}
	_, dec, err := zstdCoders()
	if err != nil {
		return nil, err
	}
	for {
		out, err := dec.DecodeAll(src, make([]byte, 0, size))
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, err
		}
		// More output than fits: past the limit, past what src can hold,
		// or past the size the frame declared (a second frame follows).
		switch {
		case size >= limit:
			return nil, errTooLarge
		case h.HasFCS || size >= bound:
			return nil, errCorrupt
		}
		size = min(bound, 4*size)
	}
}

// s2TrustedRatio is the expansion up to which an S2 header's length is
// allocated without checkS2. S2 shrinks typical values 2-5x (4.1x for the
// JSON in BenchmarkCompression); more repetitive ones are checked first.
const s2TrustedRatio = 16

// checkS2 runs the S2 block decoder's bookkeeping without writing output:
// it succeeds only if every literal and copy in src fits dLen, the length
// s2.DecodedLen read from its header, exactly.
func checkS2(src []byte, dLen int) error {
	_, s := binary.Uvarint(src) // the header, already checked
	d, offset := 0, 0
	le16 := func(i int) int { return int(src[i]) | int(src[i+1])<<8 }
	le24 := func(i int) int { return le16(i) | int(src[i+2])<<16 }
	for s < len(src) {
		var length int
		tag := src[s]
		switch tag & 0x03 {
		case 0: // literal
			x := int(tag >> 2)
			switch {
			case x < 60:
				s++
			case x == 60:
				if s += 2; s > len(src) {
					return errCorrupt
				}
				x = int(src[s-1])
			case x == 61:
				if s += 3; s > len(src) {
					return errCorrupt
				}
				x = le16(s - 2)
			case x == 62:
				if s += 4; s > len(src) {
					return errCorrupt
				}
				x = le24(s - 3)
			default:
				if s += 5; s > len(src) {
					return errCorrupt
				}
				x = le24(s-4) | int(src[s-1])<<24
			}
			length = x + 1
			if length <= 0 || length > dLen-d || length > len(src)-s {
				return errCorrupt
			}
			d += length
			s += length
			continue
		case 1: // copy with a 1-byte offset, or a repeat of the last offset
			if s += 2; s > len(src) {
				return errCorrupt
			}
			length = int(src[s-2]) >> 2 & 0x7
			if toffset := int(src[s-2])&0xe0<<3 | int(src[s-1]); toffset != 0 {
				offset = toffset
			} else {
				switch length {
				case 5:
					if s++; s > len(src) {
						return errCorrupt
					}
					length = int(src[s-1]) + 4
				case 6:
					if s += 2; s > len(src) {
						return errCorrupt
					}
					length = le16(s-2) + 1<<8
				case 7:
					if s += 3; s > len(src) {
						return errCorrupt
					}
					length = le24(s-3) + 1<<16
				}
			}
			length += 4
		case 2: // copy with a 2-byte offset
			if s += 3; s > len(src) {
				return errCorrupt
			}
			length = 1 + int(src[s-3])>>2
			offset = le16(s - 2)
		case 3: // copy with a 4-byte offset
			if s += 5; s > len(src) {
				return errCorrupt
			}
			length = 1 + int(src[s-5])>>2
			offset = le24(s-4) | int(src[s-1])<<24
		}
		if offset <= 0 || d < offset || length > dLen-d {
			return errCorrupt
		}
		d += length
	}
	if d != dLen {
		return errCorrupt
	}
	return nil
}
