// Package collection offers typed Redis data structures: Set[T], List[T],
// Hash[T] and SortedSet[T], each bound to one Redis key.
//
// Constructing one does no I/O and never fails: a value is just a Kit, a
// key (with the Kit's KeyPrefix added) and the Kit's codec. Elements are
// encoded with codec.Encode, which is deterministic — the same value always
// gives the same bytes — so membership tests (SISMEMBER), removal (SREM,
// LREM, ZREM) and score lookups (ZSCORE) work for structs and maps as well
// as for strings and numbers. Strings and byte slices are stored raw, so
// other clients read them as they are.
//
// Every structure has Key, Expire (0 means the Kit's DefaultExpiry), TTL,
// Persist and Delete (UNLINK of the whole key). TTL means what
// cache.Cache.TTL means: (0, false) for a missing key, (0, true) for a key
// without expiry, (time left, true) otherwise. Hash.Delete removes fields,
// as the contract says, so a Hash deletes its key with DeleteKey.
//
// Sorted sets are built for leaderboards without N+1 round trips: Range
// returns members with their scores and ranks in one call, and Around the
// members either side of a given one (one Lua script), where the reference
// designs fetch every score separately.
//
// Set algebra (Inter, Union, Diff and their …Store forms) works on one
// node, Sentinel and Cluster; on a cluster all keys involved must hash to
// one slot, which keys sharing a redkit.HashTag do. Keys in different slots
// give an error of Kind redkit.ErrCrossSlot that explains this; the command
// is never sent.
//
// # Errors
//
// Every error is a *redkit.Error naming the operation and, in Error.Key,
// the key as given to the constructor (without the Kit's prefix):
//   - an empty key (given to the constructor) → redkit.ErrEmptyKey, on
//     every call;
//   - a key that holds another Redis type → redkit.ErrWrongType;
//   - stored bytes that do not decode as T → redkit.ErrDecode. Calls that
//     return many elements still return every element that decoded, in
//     order, together with the error (which counts the bad ones); calls that
//     return one element return the zero value and the error.
//   - a negative TTL → redkit.ErrNegativeTTL.
//
// Values are safe for concurrent use by multiple goroutines.
//
// What it leaves out: blocking pops (use package queue for work queues),
// streams (package pubsub), cursors over huge structures (SSCAN/HSCAN —
// use Kit.Client), and client-side caching of reads.
package collection
