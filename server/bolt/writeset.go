package bolt

import (
	"bytes"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
)

// A write set is what one write transaction changed, key by key, so that
// applying it to another file that held what this one held before the
// transaction leaves both holding the same. It is how a cluster replicates
// the store (server/cluster): the leader captures the write set of each
// commit, its log carries it, and every other node applies it.
//
// It is encoded as this protobuf message, written by hand with protowire
// so that no internal format joins the public API's protos:
//
//	message WriteSet {
//	  repeated Op ops = 1;
//	}
//	message Op {
//	  OpKind kind = 1;          // OP_PUT = 1, OP_DELETE = 2, OP_CREATE_BUCKET = 3,
//	                            // OP_DELETE_BUCKET = 4, OP_SET_SEQUENCE = 5
//	  repeated bytes bucket = 2; // the bucket's path from the top level
//	  bytes key = 3;             // OP_PUT, OP_DELETE; for the bucket ops, the bucket's name
//	  bytes value = 4;           // OP_PUT
//	  uint64 sequence = 5;       // OP_SET_SEQUENCE
//	}
//
// Ops are kept in the order the transaction made them; applying them in
// that order gives the same result, since a later op on a key overrides an
// earlier one exactly as it did in the transaction.

// OpKind is what an Op does.
type OpKind int32

// The kinds of Op. Their numbers are the encoding's and never change.
const (
	// OpPut stores Value under Key in Bucket.
	OpPut OpKind = 1
	// OpDelete deletes Key from Bucket.
	OpDelete OpKind = 2
	// OpCreateBucket creates the bucket named Key inside Bucket (the top
	// level when Bucket is empty), unless it exists.
	OpCreateBucket OpKind = 3
	// OpDeleteBucket deletes the bucket named Key inside Bucket, with
	// everything in it, if it exists.
	OpDeleteBucket OpKind = 4
	// OpSetSequence sets Bucket's sequence (bbolt's NextSequence counter)
	// to Sequence.
	OpSetSequence OpKind = 5
)

// Op is one change of a write set.
type Op struct {
	Kind OpKind
	// Bucket is the path of the bucket the op changes: top-level name
	// first. Every op but the bucket ops at the top level has one.
	Bucket [][]byte
	// Key is the key put or deleted, or the name of the bucket created or
	// deleted.
	Key []byte
	// Value is what OpPut stores (empty is a value, as bbolt's indexes use).
	Value []byte
	// Sequence is what OpSetSequence sets.
	Sequence uint64
}

// WriteSet is the changes of one write transaction, in order. The
// zero value changes nothing.
type WriteSet struct {
	Ops []Op
}

// Empty reports whether ws changes nothing.
func (ws *WriteSet) Empty() bool { return ws == nil || len(ws.Ops) == 0 }

// Field numbers of the encoding.
const (
	wsOpsField      protowire.Number = 1
	opKindField     protowire.Number = 1
	opBucketField   protowire.Number = 2
	opKeyField      protowire.Number = 3
	opValueField    protowire.Number = 4
	opSequenceField protowire.Number = 5
)

// Marshal encodes ws as the WriteSet message.
func (ws *WriteSet) Marshal() []byte {
	if ws.Empty() {
		return nil
	}
	var b, op []byte
	for i := range ws.Ops {
		op = appendOp(op[:0], &ws.Ops[i])
		b = protowire.AppendTag(b, wsOpsField, protowire.BytesType)
		b = protowire.AppendBytes(b, op)
	}
	return b
}

func appendOp(b []byte, op *Op) []byte {
	b = protowire.AppendTag(b, opKindField, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(op.Kind))
	for _, name := range op.Bucket {
		b = protowire.AppendTag(b, opBucketField, protowire.BytesType)
		b = protowire.AppendBytes(b, name)
	}
	// Key and value are written even when empty: proto3 would leave them
	// out, and an empty value must come back as empty, not as missing.
	if op.Kind != OpSetSequence {
		b = protowire.AppendTag(b, opKeyField, protowire.BytesType)
		b = protowire.AppendBytes(b, op.Key)
	}
	if op.Kind == OpPut {
		b = protowire.AppendTag(b, opValueField, protowire.BytesType)
		b = protowire.AppendBytes(b, op.Value)
	}
	if op.Sequence != 0 {
		b = protowire.AppendTag(b, opSequenceField, protowire.VarintType)
		b = protowire.AppendVarint(b, op.Sequence)
	}
	return b
}

// UnmarshalWriteSet decodes a WriteSet message. The write set's keys and
// values point into b. Fields it does not know are skipped, as protobuf
// does, so that a newer writer's additions do not stop an older reader;
// ops of a kind it does not know are an error, since skipping a change
// would make the files differ.
func UnmarshalWriteSet(b []byte) (*WriteSet, error) {
	ws := &WriteSet{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("decode write set: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num != wsOpsField || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, fmt.Errorf("decode write set: %w", protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, fmt.Errorf("decode write set: %w", protowire.ParseError(n))
		}
		b = b[n:]
		op, err := unmarshalOp(v)
		if err != nil {
			return nil, fmt.Errorf("decode write set op %d: %w", len(ws.Ops), err)
		}
		ws.Ops = append(ws.Ops, op)
	}
	return ws, nil
}

func unmarshalOp(b []byte) (Op, error) {
	var op Op
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return op, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == opKindField && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return op, protowire.ParseError(n)
			}
			op.Kind, b = OpKind(int32(v)), b[n:]
		case num == opSequenceField && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return op, protowire.ParseError(n)
			}
			op.Sequence, b = v, b[n:]
		case (num == opBucketField || num == opKeyField || num == opValueField) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return op, protowire.ParseError(n)
			}
			b = b[n:]
			if v == nil {
				v = []byte{}
			}
			switch num {
			case opBucketField:
				op.Bucket = append(op.Bucket, v)
			case opKeyField:
				op.Key = v
			default:
				op.Value = v
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return op, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	switch op.Kind {
	case OpPut:
		if op.Value == nil {
			op.Value = []byte{}
		}
	case OpDelete, OpCreateBucket, OpDeleteBucket, OpSetSequence:
	default:
		return op, fmt.Errorf("unknown kind %d", op.Kind)
	}
	return op, nil
}

// Apply makes ws's changes in tx, in order. Deleting what is not there
// changes nothing, as in the transaction captured, where it changed
// nothing either; a put into a bucket that does not exist is an error,
// since the files did not hold the same before.
func (ws *WriteSet) Apply(tx *bbolt.Tx) error {
	if ws == nil {
		return nil
	}
	for i := range ws.Ops {
		if err := applyOp(tx, &ws.Ops[i]); err != nil {
			return fmt.Errorf("apply write set op %d: %w", i, err)
		}
	}
	return nil
}

// bucketParent is what *bbolt.Tx and *bbolt.Bucket share for the bucket
// ops.
type bucketParent interface {
	Bucket(name []byte) *bbolt.Bucket
	CreateBucketIfNotExists(name []byte) (*bbolt.Bucket, error)
	DeleteBucket(name []byte) error
}

func applyOp(tx *bbolt.Tx, op *Op) error {
	if op.Kind == OpCreateBucket || op.Kind == OpDeleteBucket {
		var parent bucketParent = tx
		if len(op.Bucket) > 0 {
			b, err := bucketAt(tx, op.Bucket)
			if err != nil {
				return err
			}
			parent = b
		}
		if op.Kind == OpCreateBucket {
			if _, err := parent.CreateBucketIfNotExists(op.Key); err != nil {
				return fmt.Errorf("create bucket %q: %w", op.Key, err)
			}
			return nil
		}
		if parent.Bucket(op.Key) == nil {
			return nil
		}
		if err := parent.DeleteBucket(op.Key); err != nil {
			return fmt.Errorf("delete bucket %q: %w", op.Key, err)
		}
		return nil
	}
	b, err := bucketAt(tx, op.Bucket)
	if err != nil {
		return err
	}
	switch op.Kind {
	case OpPut:
		// bbolt keeps the slices until the transaction ends; the op's
		// may point into a buffer the caller reuses.
		return b.Put(bytes.Clone(op.Key), bytes.Clone(op.Value))
	case OpDelete:
		return b.Delete(op.Key)
	case OpSetSequence:
		return b.SetSequence(op.Sequence)
	}
	return fmt.Errorf("unknown kind %d", op.Kind)
}

// bucketAt finds the bucket at path.
func bucketAt(tx *bbolt.Tx, path [][]byte) (*bbolt.Bucket, error) {
	if len(path) == 0 {
		return nil, errors.New("no bucket")
	}
	b := tx.Bucket(path[0])
	for _, name := range path[1:] {
		if b == nil {
			break
		}
		b = b.Bucket(name)
	}
	if b == nil {
		return nil, fmt.Errorf("bucket %q does not exist", path)
	}
	return b, nil
}

// recorder collects the write set of one attempt at a transaction. Its
// ops own their bytes: bbolt may move a key a cursor returned once the
// key is deleted.
type recorder struct {
	ws WriteSet
}

func (r *recorder) add(kind OpKind, path [][]byte, key, value []byte, seq uint64) {
	op := Op{Kind: kind, Bucket: path, Key: bytes.Clone(key), Sequence: seq}
	if kind == OpPut {
		op.Value = append([]byte{}, value...)
	}
	if op.Key == nil && kind != OpSetSequence {
		op.Key = []byte{}
	}
	r.ws.Ops = append(r.ws.Ops, op)
}

// wbucket is a bucket written through a write transaction: it records
// what it changes in the transaction's recorder, if it has one. Every
// change a write transaction makes goes through one (writeTx.bucket), so
// that a captured write set misses nothing. Reads are bbolt's own.
type wbucket struct {
	*bbolt.Bucket
	path [][]byte
	rec  *recorder // nil: capture is off
}

// bucket returns the top-level bucket name for writing.
func (w *writeTx) bucket(name []byte) wbucket {
	b := wbucket{Bucket: w.tx.Bucket(name), rec: w.rec}
	if w.rec != nil {
		b.path = [][]byte{name}
	}
	return b
}

// Put is bbolt's Put, recorded.
func (b wbucket) Put(key, value []byte) error {
	if err := b.Bucket.Put(key, value); err != nil {
		return err
	}
	if b.rec != nil {
		b.rec.add(OpPut, b.path, key, value, 0)
	}
	return nil
}

// Delete is bbolt's Delete, recorded.
func (b wbucket) Delete(key []byte) error {
	if err := b.Bucket.Delete(key); err != nil {
		return err
	}
	if b.rec != nil {
		b.rec.add(OpDelete, b.path, key, nil, 0)
	}
	return nil
}

// NextSequence is bbolt's NextSequence, recorded as the sequence it sets.
func (b wbucket) NextSequence() (uint64, error) {
	seq, err := b.Bucket.NextSequence()
	if err == nil && b.rec != nil {
		b.rec.add(OpSetSequence, b.path, nil, nil, seq)
	}
	return seq, err
}

// SetSequence is bbolt's SetSequence, recorded.
func (b wbucket) SetSequence(seq uint64) error {
	if err := b.Bucket.SetSequence(seq); err != nil {
		return err
	}
	if b.rec != nil {
		b.rec.add(OpSetSequence, b.path, nil, nil, seq)
	}
	return nil
}

// createBucket creates the top-level bucket name unless it exists,
// recorded.
func (w *writeTx) createBucket(name []byte) error {
	w.wrote = true
	if _, err := w.tx.CreateBucketIfNotExists(name); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	if w.rec != nil {
		w.rec.add(OpCreateBucket, nil, name, nil, 0)
	}
	return nil
}

// deleteBucket deletes the top-level bucket name, if it exists, recorded.
func (w *writeTx) deleteBucket(name []byte) error {
	if w.tx.Bucket(name) == nil {
		return nil
	}
	w.wrote = true
	if err := w.tx.DeleteBucket(name); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if w.rec != nil {
		w.rec.add(OpDeleteBucket, nil, name, nil, 0)
	}
	return nil
}

// Cursor returns a cursor whose Delete is recorded.
func (b wbucket) Cursor() wcursor {
	return wcursor{Cursor: b.Bucket.Cursor(), b: b}
}

// wcursor is a cursor over a wbucket. It remembers the key it is at when
// capture is on, since bbolt's Delete does not say what it deleted.
type wcursor struct {
	*bbolt.Cursor
	b   wbucket
	key []byte
}

func (c *wcursor) at(k, v []byte) ([]byte, []byte) {
	if c.b.rec != nil {
		c.key = k
	}
	return k, v
}

// First is bbolt's.
func (c *wcursor) First() ([]byte, []byte) { return c.at(c.Cursor.First()) }

// Last is bbolt's.
func (c *wcursor) Last() ([]byte, []byte) { return c.at(c.Cursor.Last()) }

// Next is bbolt's.
func (c *wcursor) Next() ([]byte, []byte) { return c.at(c.Cursor.Next()) }

// Prev is bbolt's.
func (c *wcursor) Prev() ([]byte, []byte) { return c.at(c.Cursor.Prev()) }

// Seek is bbolt's.
func (c *wcursor) Seek(seek []byte) ([]byte, []byte) { return c.at(c.Cursor.Seek(seek)) }

// Delete is bbolt's, recorded.
func (c *wcursor) Delete() error {
	if c.b.rec != nil {
		// Cloned before: the delete may shift the bytes it points at.
		key := bytes.Clone(c.key)
		if err := c.Cursor.Delete(); err != nil {
			return err
		}
		c.b.rec.add(OpDelete, c.b.path, key, nil, 0)
		return nil
	}
	return c.Cursor.Delete()
}
