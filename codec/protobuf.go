package codec

import (
	"errors"
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"
)

type protobufCodec struct{}

var (
	protoMessageType = reflect.TypeFor[proto.Message]()

	// Deterministic sorts map fields, so equal messages give equal bytes.
	protoMarshal = proto.MarshalOptions{Deterministic: true}
)

func (protobufCodec) Name() string { return "protobuf" }

func (protobufCodec) Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case proto.Message:
		return protoMarshal.Marshal(m)
	case nil:
		return nil, errors.New("codec: protobuf: cannot marshal nil")
	}
	// A pointer to a message (&msg) is accepted too, for symmetry with
	// Unmarshal.
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.Type().Elem().Implements(protoMessageType) {
		if e := rv.Elem(); rv.IsNil() || (e.Kind() == reflect.Pointer || e.Kind() == reflect.Interface) && e.IsNil() {
			return nil, fmt.Errorf("codec: protobuf: cannot marshal nil %T", v)
		}
		return protoMarshal.Marshal(rv.Elem().Interface().(proto.Message))
	}
	return nil, fmt.Errorf("codec: protobuf: %T is not a proto.Message (use the generated pointer type, such as *pb.User)", v)
}

func (protobufCodec) Unmarshal(data []byte, v any) error {
	if m, ok := v.(proto.Message); ok {
		if !m.ProtoReflect().IsValid() {
			return fmt.Errorf("codec: protobuf: cannot unmarshal into nil %T", v)
		}
		return proto.Unmarshal(data, m)
	}
	// **pb.User (or *proto.Message): allocate the message when it is nil.
	rv := reflect.ValueOf(v)
	if v == nil || rv.Kind() != reflect.Pointer || rv.IsNil() || !rv.Type().Elem().Implements(protoMessageType) {
		return fmt.Errorf("codec: protobuf: cannot unmarshal into %T: want a proto.Message or a pointer to one", v)
	}
	elem := rv.Elem()
	switch elem.Kind() {
	case reflect.Pointer:
		if elem.IsNil() {
			elem.Set(reflect.New(elem.Type().Elem()))
		}
	case reflect.Interface:
		if elem.IsNil() {
			return fmt.Errorf("codec: protobuf: cannot unmarshal into a nil %s: its concrete type is unknown", elem.Type())
		}
	default:
		return fmt.Errorf("codec: protobuf: cannot unmarshal into %T", v)
	}
	m := elem.Interface().(proto.Message)
	if !m.ProtoReflect().IsValid() {
		return fmt.Errorf("codec: protobuf: cannot unmarshal into nil %T", m)
	}
	return proto.Unmarshal(data, m)
}
