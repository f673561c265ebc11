package codec

import (
	"errors"
	"fmt"
	"strings"
)

// ErrDecode is returned, wrapped, when stored bytes cannot be turned back
// into a value: the codec rejected them, a compressed frame is corrupt or
// truncated, or it would decompress beyond [MaxDecodedSize]. The wrapping
// error names the codec or compression that failed. The root package
// re-exports this variable as redkit.ErrDecode.
var ErrDecode = errors.New("codec: cannot decode value")

// Codec turns values into bytes and back.
//
// Marshal receives the value itself (a T); Unmarshal receives a pointer to
// the value to fill (a *T). Implementations must be safe for concurrent use
// and should be deterministic: the same value must always give the same
// bytes, because sets, sorted sets and list removal compare encoded bytes.
// Decoders must return an error, never panic, on bytes they did not write.
type Codec interface {
	// Name is a short lower-case name such as "json", used in error messages.
	Name() string
	// Marshal returns the encoding of v. The caller owns the returned slice.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to. It must not keep
	// data after it returns: callers may reuse the buffer.
	Unmarshal(data []byte, v any) error
}

// The codecs below are stateless values, safe for concurrent use.
var (
	// JSON is the default codec: encoding/json, readable by every language.
	// Encoding is deterministic: struct fields in declaration order, map keys
	// sorted. Numbers decoded into an interface{} become float64, as with
	// encoding/json.
	JSON Codec = jsonCodec{}

	// MsgPack encodes with github.com/vmihailenco/msgpack/v5: smaller and
	// faster than JSON. Field names come from the msgpack struct tag, else
	// the json tag, else the Go field name, so a struct tagged for JSON keeps
	// its names. Integers use the smallest encoding; an interface{} decodes
	// integers as int64 or uint64 and floats as float64.
	//
	// Encoding is deterministic. Values whose type can hold a map (a map
	// field, an interface field) are written in a canonical form in which
	// the entries of every MessagePack map are sorted by key (string keys by
	// their bytes, before any other key kind); other values are written as
	// the library writes them. Decoding checks that the input is exactly one
	// well-formed MessagePack value before touching it, so corrupt or
	// hostile input cannot make the decoder allocate more than a small
	// multiple of its own size.
	MsgPack Codec = msgpackCodec{}

	// Protobuf encodes protocol buffers with google.golang.org/protobuf in
	// deterministic mode (map fields sorted). Marshal needs a proto.Message
	// (such as *pb.User). Unmarshal accepts a proto.Message, or a pointer to
	// a pointer to a message (**pb.User, what a Cache[*pb.User] passes), in
	// which case a nil message is allocated. Anything else is an error.
	Protobuf Codec = protobufCodec{}
)

// ParseCodec returns the codec named s: "json", "msgpack" (or
// "messagepack") or "protobuf" (or "proto"), in any case. It is meant for
// configuration read from the environment or flags.
func ParseCodec(s string) (Codec, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "json":
		return JSON, nil
	case "msgpack", "messagepack":
		return MsgPack, nil
	case "protobuf", "proto":
		return Protobuf, nil
	}
	return nil, fmt.Errorf("codec: unknown codec %q (want json, msgpack or protobuf)", s)
}

// decodeError wraps err from the named stage (a codec or compression name)
// so that errors.Is(err, ErrDecode) holds and the cause stays reachable.
func decodeError(stage string, err error) error {
	return &stageError{
		msg:  ErrDecode.Error() + ": " + stage + ": " + trimStage(err.Error(), stage),
		errs: []error{ErrDecode, err},
	}
}

// encodeError wraps err from the named codec or compression.
func encodeError(stage string, err error) error {
	return &stageError{msg: "codec: encode " + stage + ": " + trimStage(err.Error(), stage), errs: []error{err}}
}

// stageError is an error that wraps errs with a message that names the
// stage once (library errors already start with "msgpack: " or "gzip: ").
type stageError struct {
	msg  string
	errs []error
}

func (e *stageError) Error() string   { return e.msg }
func (e *stageError) Unwrap() []error { return e.errs }

func trimStage(msg, stage string) string {
	msg = strings.TrimPrefix(msg, "codec: ")
	return strings.TrimPrefix(msg, stage+": ")
}
