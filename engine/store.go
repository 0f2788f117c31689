package engine

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var bucketContainers = []byte("containers")

// put writes a container's record in its own transaction; bbolt fsyncs at
// commit, so a record that put returned is on disk. Callers hold the
// container's lock and pass its current record, so the saves of one
// container happen in order.
func (e *Engine) put(rec Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return e.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Put([]byte(rec.ID), data)
	})
}

func (e *Engine) del(id string) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Delete([]byte(id))
	})
}

// loadRecords reads every record. A record that does not decode is reported
// and skipped rather than blocking start-up.
func (e *Engine) loadRecords() ([]Record, error) {
	var out []Record
	err := e.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketContainers)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil || r.ID != string(k) {
				e.logf("skipping unreadable container record %q: %v", k, err)
				return nil
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading container records: %w", err)
	}
	return out, nil
}

// bucket is a bucket of the engine's state holding the records of a noun
// of its own (volume.Store, network.Store): each Put and Delete is a
// transaction of its own, on disk when it returns.
type bucket struct {
	db   *bolt.DB
	name []byte
}

func (b bucket) Put(key string, value []byte) error {
	return b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(b.name).Put([]byte(key), value) })
}

func (b bucket) Delete(key string) error {
	return b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(b.name).Delete([]byte(key)) })
}

// ForEach makes the bucket if it is missing, then calls fn for each
// record, in the order of their keys.
func (b bucket) ForEach(fn func(key string, value []byte) error) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(b.name)
		if err != nil {
			return err
		}
		return bk.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}
