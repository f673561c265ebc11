package redkit

import "fmt"

// Slot returns the Redis Cluster hash slot (0..16383) of key: CRC16 of the
// key, or of its hash tag when it has one (see HashTag). It is written here
// because the engine keeps its own copy internal.
func Slot(key string) uint16 {
	if tag, ok := hashTag(key); ok {
		key = tag
	}
	return crc16(key) & 16383
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021), the checksum Redis Cluster
// hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// CheckSameSlot returns an *Error with Kind ErrCrossSlot when the Kit is on
// a cluster and keys hash to different slots, explaining how to fix it.
// Multi-key operations call it before building a command: the engine
// refuses (panics on) cross-slot commands on a cluster, and Redis would
// answer CROSSSLOT. On one node or Sentinel it always returns nil.
func (k *Kit) CheckSameSlot(op string, keys ...string) error {
	if len(keys) < 2 || k.Mode() != "cluster" {
		return nil
	}
	first := Slot(keys[0])
	for _, key := range keys[1:] {
		if s := Slot(key); s != first {
			return &Error{Op: op, Key: key, Kind: ErrCrossSlot, Err: fmt.Errorf(
				"keys %q (slot %d) and %q (slot %d) are in different cluster slots: "+
					"give them a common hash tag, e.g. kit.Key(\"cart\", redkit.HashTag(userID)), so they hash to one slot",
				keys[0], first, key, s)}
		}
	}
	return nil
}
