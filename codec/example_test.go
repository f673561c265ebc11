package codec_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redkit-go/redkit/codec"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type User struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Admin bool   `json:"admin,omitempty"`
}

func Example() {
	f := codec.Format{} // JSON, uncompressed
	b, err := codec.Encode(f, User{ID: 42, Name: "Ada"})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))

	u, err := codec.Decode[User](f, b)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", u)
	// Output:
	// {"id":42,"name":"Ada"}
	// {ID:42 Name:Ada Admin:false}
}

// Strings and byte slices are stored as they are, so any client reads them.
func ExampleEncode_raw() {
	b, _ := codec.Encode(codec.Format{Codec: codec.MsgPack}, "hello")
	fmt.Printf("%q\n", b)
	// Output:
	// "hello"
}

// Compressed values carry a marker; readers recognise it whatever their
// own settings, so compression can be switched on for a live system.
func ExampleFormat_compression() {
	writer := codec.Format{Codec: codec.MsgPack, Compression: codec.Zstd, CompressMin: 256}
	reader := codec.Format{Codec: codec.MsgPack} // no compression configured

	long := strings.Repeat("pizza ", 100) // 600 bytes: compressed
	b, _ := codec.Encode(writer, []string{long})
	fmt.Println(codec.CompressionOf(b), len(b) < len(long))

	got, err := codec.Decode[[]string](reader, b)
	fmt.Println(got[0] == long, err)

	short, _ := codec.Encode(writer, []string{"margherita"}) // under CompressMin
	fmt.Println(codec.CompressionOf(short))
	// Output:
	// zstd true
	// true <nil>
	// none
}

func ExampleDecode_error() {
	_, err := codec.Decode[User](codec.Format{}, []byte("not json"))
	fmt.Println(errors.Is(err, codec.ErrDecode))
	fmt.Println(err)
	// Output:
	// true
	// codec: cannot decode value: json: invalid character 'o' in literal null (expecting 'u')
}

// A Cache[*pb.User] decodes into a pointer to a message pointer; the
// Protobuf codec allocates the message.
func ExampleDecode_protobuf() {
	f := codec.Format{Codec: codec.Protobuf}
	b, _ := codec.Encode(f, wrapperspb.String("margherita"))
	msg, err := codec.Decode[*wrapperspb.StringValue](f, b)
	fmt.Println(msg.GetValue(), err)
	// Output:
	// margherita <nil>
}

func ExampleParseCompression() {
	c, err := codec.ParseCompression("ZSTD")
	fmt.Println(c, err)
	_, err = codec.ParseCompression("lz4")
	fmt.Println(err)
	// Output:
	// zstd <nil>
	// codec: unknown compression "lz4" (want none, gzip, deflate, brotli, zstd or s2)
}
