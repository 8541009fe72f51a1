package bolt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"

	bbolt "go.etcd.io/bbolt"
)

// Digest returns a SHA-256 over the file's whole content as replication
// keeps it: every bucket (nested ones too) with its sequence, and every
// key with its value, in order, as one consistent snapshot. Two files
// with the same digest hold the same; how bbolt laid them out in pages
// does not count. Nodes of a cluster at the same log position have the
// same digest, which is how tests and operators check replicas.
func (s *Store) Digest() (string, error) {
	if s.isClosed() {
		return "", errClosed()
	}
	h := sha256.New()
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return digestBucket(h, 0, name, b)
		})
	})
	if err != nil {
		return "", fmt.Errorf("digest store %s: %w", s.path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digestBucket hashes bucket b, named name, depth levels down: each item
// framed by a tag and lengths, so that no two contents hash alike by
// running into each other.
func digestBucket(h hash.Hash, depth int, name []byte, b *bbolt.Bucket) error {
	frame(h, 'B', uint64(depth), name, nil)
	frame(h, 'S', b.Sequence(), nil, nil)
	err := b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				return digestBucket(h, depth+1, k, nb)
			}
		}
		frame(h, 'K', 0, k, v)
		return nil
	})
	frame(h, 'E', uint64(depth), nil, nil)
	return err
}

func frame(h hash.Hash, tag byte, n uint64, a, b []byte) {
	var buf [1 + 3*binary.MaxVarintLen64]byte
	buf[0] = tag
	i := 1
	i += binary.PutUvarint(buf[i:], n)
	i += binary.PutUvarint(buf[i:], uint64(len(a)))
	i += binary.PutUvarint(buf[i:], uint64(len(b)))
	h.Write(buf[:i])
	h.Write(a)
	h.Write(b)
}
